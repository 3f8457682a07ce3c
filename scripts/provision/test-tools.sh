#!/usr/bin/env bash
# Tools the tests drive for real: an image registry for push tests (Debian's docker-registry,
# distribution 2.8), OpenSSH's sftp client for the file share's SFTP server, and sshfs for the
# file share's relay tested on the host, and chromium for the dashboard's browser tests (Playwright
# drives Debian's build: no browser download).
set -euo pipefail
if command -v docker-registry >/dev/null 2>&1 && command -v sftp >/dev/null 2>&1 && command -v sshfs >/dev/null 2>&1 \
   && command -v chromium >/dev/null 2>&1; then
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry openssh-client sshfs chromium >/dev/null
# The package starts a system service on :5000; tests run their own on free ports.
(systemctl stop docker-registry || service docker-registry stop || pkill -f 'docker-registry serve /etc') >/dev/null 2>&1 || true
