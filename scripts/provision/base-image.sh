#!/usr/bin/env bash
# Provide python:3.11-slim locally when no registry can be reached: a debootstrap stand-in, cached.
#
# The stand-in is Debian bookworm with python3 (3.11), pip and venv, with Debian's
# EXTERNALLY-MANAGED marker removed and a `python` alias, so it behaves like the official image.
# The root file system is cached as a tarball, so a wiped engine re-imports it in seconds.
set -euo pipefail

TAG="${COWAIT_BASE_IMAGE:-python:3.11-slim}"
CACHE="${COWAIT_CACHE_DIR:-$HOME/.cache/cowait-provision}"
TARBALL="$CACHE/bookworm-python3.tar"

if docker image inspect "$TAG" >/dev/null 2>&1; then
  exit 0
fi
if docker pull -q "$TAG" >/dev/null 2>&1; then
  exit 0
fi

mkdir -p "$CACHE"
if [ ! -s "$TARBALL" ]; then
  command -v debootstrap >/dev/null 2>&1 || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  echo "provision: building a stand-in for $TAG with debootstrap (about a minute)" >&2
  debootstrap --variant=minbase \
    --include=python3,python3-pip,python3-venv,ca-certificates \
    bookworm "$root" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 || {
      echo "provision: debootstrap failed; see $CACHE/debootstrap.log" >&2; exit 1; }
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  ln -sf python3 "$root/usr/bin/python"
  ln -sf pip3 "$root/usr/bin/pip"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
fi
echo "provision: importing $TARBALL as $TAG" >&2
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  "$TARBALL" "$TAG" >/dev/null
