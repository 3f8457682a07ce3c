#!/usr/bin/env bash
# Run the test suite; provisions what it needs first (idempotent): Docker engine, compose v2,
# the python:3.11-slim base image, and a virtualenv with cowait installed in editable mode.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/unit -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/provision/docker-engine.sh
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q -e '.[test]' 2>&1 | { grep -v '^WARNING: Location' || true; }
bash scripts/provision/compose-plugin.sh .venv/bin/python
bash scripts/provision/base-image.sh
bash scripts/provision/registry.sh

export TESTCONTAINERS_RYUK_DISABLED=true
exec .venv/bin/python -m pytest "$@"
