#!/usr/bin/env bash
# Run the test suite; provisions what it needs first (idempotent): Docker engine, compose v2,
# the python:3.11-slim base image, and a virtualenv with cowait installed in editable mode.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/unit -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/provision/dev.sh

export TESTCONTAINERS_RYUK_DISABLED=true
# Each run gets a temporary root of its own: pytest keeps only the last three session folders under
# a shared root and deletes older ones, which removed the projects of a run still going beside it.
cleanup=""
trap 'eval "$cleanup"' EXIT
if [ -z "${PYTEST_DEBUG_TEMPROOT:-}" ]; then
  PYTEST_DEBUG_TEMPROOT="$(mktemp -d -t cowait-tests.XXXXXX)"
  export PYTEST_DEBUG_TEMPROOT
  cleanup="rm -rf '$PYTEST_DEBUG_TEMPROOT';"
fi

# The Kubernetes live suite (tests/k8s_live) runs against COWAIT_TEST_KUBECONFIG. When none is given
# and the k8sim simulator is beside this checkout (../shared/k8sim), start it for this run.
source scripts/provision/k8sim.sh
start_k8sim .venv/bin/python

set +e
# Two workers (COWAIT_TEST_WORKERS; 0 runs in this process): most tests wait on containers, pods
# and downloads, so two run side by side on two cores; tests sharing fixtures stay on one worker
# (tests/conftest.py groups them).
.venv/bin/python -m pytest -n "${COWAIT_TEST_WORKERS:-2}" --dist loadgroup "$@"
code=$?
set -e
exit "$code"
