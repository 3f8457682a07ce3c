#!/usr/bin/env bash
# Provide python:3.11-slim locally when no registry can be reached: a debootstrap stand-in, cached.
#
# The stand-in is Debian bookworm with python3 (3.11), pip and venv, with Debian's
# EXTERNALLY-MANAGED marker removed, a `python` alias, and no bytecode in its Python library (the
# official image deletes every .pyc), so it behaves like the official image: what a task pays at
# start-up here is what it pays on the real base. The root file system is cached as a tarball, so a
# wiped engine re-imports it in seconds. STAND_IN is the stand-in's version: an older one is replaced.
set -euo pipefail

TAG="${COWAIT_BASE_IMAGE:-python:3.11-slim}"
CACHE="${COWAIT_CACHE_DIR:-$HOME/.cache/cowait-provision}"
STAND_IN=2
TARBALL="$CACHE/bookworm-python3-v$STAND_IN.tar"

if docker image inspect "$TAG" >/dev/null 2>&1; then
  # Only an older stand-in of ours is replaced: imported from a tarball (no PYTHON_VERSION, as the
  # official image has) and without this version's label. Any other image under the tag is kept.
  version="$(docker image inspect -f '{{index .Config.Labels "cowait.stand-in"}}' "$TAG" 2>/dev/null || true)"
  official="$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$TAG" | grep -c '^PYTHON_VERSION=' || true)"
  imported="$(docker image inspect -f '{{.Comment}}' "$TAG")"
  if [ "$official" != 0 ] || [ "$version" = "$STAND_IN" ] || [ "$imported" != "Imported from -" ]; then
    exit 0
  fi
  echo "provision: replacing an older stand-in for $TAG" >&2
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
  find "$root"/usr/lib/python3* -name '*.pyc' -delete
  find "$root"/usr/lib/python3* -depth -type d -name __pycache__ -empty -delete
  ln -sf python3 "$root/usr/bin/python"
  ln -sf pip3 "$root/usr/bin/pip"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  rm -f "$CACHE"/bookworm-python3.tar  # the first stand-in's cache
fi
echo "provision: importing $TARBALL as $TAG" >&2
docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --change "LABEL cowait.stand-in=$STAND_IN" \
  "$TARBALL" "$TAG" >/dev/null
