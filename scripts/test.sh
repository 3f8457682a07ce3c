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
bash scripts/provision/test-tools.sh

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
simulator="../shared/k8sim/k8sim.py"
if [ -z "${COWAIT_TEST_KUBECONFIG:-}" ] && [ -f "$simulator" ] && [ "${COWAIT_TEST_NO_K8SIM:-0}" != 1 ]; then
  k8sdir="$(mktemp -d)"
  .venv/bin/python "$simulator" --port 0 --kubeconfig "$k8sdir/k8sim.yaml" --crashloop-backoff 1 \
    >"$k8sdir/k8sim.log" 2>&1 &
  k8sim_pid=$!
  cleanup="kill $k8sim_pid 2>/dev/null; wait $k8sim_pid 2>/dev/null; rm -rf '$k8sdir'; $cleanup"
  for _ in $(seq 1 120); do
    [ -s "$k8sdir/k8sim.yaml" ] && break
    kill -0 "$k8sim_pid" 2>/dev/null || { cat "$k8sdir/k8sim.log" >&2; exit 1; }
    sleep 0.5
  done
  export COWAIT_TEST_KUBECONFIG="$k8sdir/k8sim.yaml"
  echo "test: Kubernetes live suite against k8sim ($COWAIT_TEST_KUBECONFIG)" >&2
fi

set +e
.venv/bin/python -m pytest "$@"
code=$?
set -e
exit "$code"
