#!/usr/bin/env bash
# Make sure a Docker engine answers; install Debian's docker.io and start dockerd when none does.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "provision: installing docker.io (Debian)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
echo "provision: starting dockerd (log: /var/log/cowait-dockerd.log)" >&2
nohup dockerd >/var/log/cowait-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "provision: dockerd did not start; see /var/log/cowait-dockerd.log" >&2
tail -20 /var/log/cowait-dockerd.log >&2 || true
exit 1
