#!/usr/bin/env bash
# What the tests and the benchmarks need, idempotent: Docker engine, compose v2, the python:3.11-slim
# base image, the tools the tests drive, and a virtualenv (.venv) with cowait installed editable.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash scripts/provision/docker-engine.sh
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q -e '.[test]' 2>&1 | { grep -v '^WARNING: Location' || true; }
bash scripts/provision/compose-plugin.sh .venv/bin/python
bash scripts/provision/base-image.sh
bash scripts/provision/test-tools.sh
