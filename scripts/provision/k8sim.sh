# Sourced by scripts/test.sh and scripts/bench.sh (bash): `start_k8sim PYTHON` starts the Kubernetes
# API simulator beside this checkout (../shared/k8sim) unless COWAIT_TEST_KUBECONFIG names a cluster
# already, exports COWAIT_TEST_KUBECONFIG, and prepends its stop to the caller's $cleanup.
start_k8sim() {
  local python="$1" simulator="../shared/k8sim/k8sim.py" k8sdir
  if [ -n "${COWAIT_TEST_KUBECONFIG:-}" ] || [ ! -f "$simulator" ] || [ "${COWAIT_TEST_NO_K8SIM:-0}" = 1 ]; then
    return 0
  fi
  k8sdir="$(mktemp -d)"
  "$python" "$simulator" --port 0 --kubeconfig "$k8sdir/k8sim.yaml" --crashloop-backoff 1 \
    >"$k8sdir/k8sim.log" 2>&1 &
  local pid=$!
  cleanup="kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf '$k8sdir'; ${cleanup:-}"
  for _ in $(seq 1 120); do
    [ -s "$k8sdir/k8sim.yaml" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$k8sdir/k8sim.log" >&2; return 1; }
    sleep 0.5
  done
  export COWAIT_TEST_KUBECONFIG="$k8sdir/k8sim.yaml"
  echo "k8sim: Kubernetes API simulator at $COWAIT_TEST_KUBECONFIG" >&2
}
