#!/usr/bin/env bash
# Run the benchmarks (`bench/`), every row in one run: provisions like scripts/test.sh, then starts
# what the cluster rows need (the k8sim simulator unless COWAIT_TEST_KUBECONFIG names a cluster, and
# an image registry unless COWAIT_TEST_REGISTRY names one the cluster pulls from).
# Arguments name benchmarks, e.g. `bash scripts/bench.sh bench_scale`; BENCH_WIDTHS=8,32 shortens, BENCH_CLUSTER_ONLY=1
# runs only the scale benchmark's cluster row.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/provision/dev.sh

cleanup=""
trap 'eval "$cleanup"' EXIT
source scripts/provision/k8sim.sh
start_k8sim .venv/bin/python
if [ -z "${COWAIT_TEST_REGISTRY:-}" ]; then
  regdir="$(mktemp -d)"
  port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  printf 'version: 0.1\nlog: {level: error}\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$regdir/data" "$port" > "$regdir/registry.yml"
  docker-registry serve "$regdir/registry.yml" >/dev/null 2>&1 &
  cleanup="kill $! 2>/dev/null; rm -rf '$regdir'; $cleanup"
  export COWAIT_TEST_REGISTRY="127.0.0.1:$port"
fi
.venv/bin/python -m bench.run "$@"
