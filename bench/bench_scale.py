"""Fan-out at scale, against bare runs at the same concurrency in the same run:

- 8 / 32 / 128 / 512 trivial subtasks from one parent (wall per subtask, the bound at the width)
  against as many bare SDK container runs at once (target <= 1.0x at each width, flat cost);
- 1,000 trivial subtasks at ``--parallelism 8`` against 1,000 bare runs, 8 at a time (<= 1.1x;
  the parent's peak RSS is printed);
- on a cluster (``COWAIT_TEST_KUBECONFIG``, k8sim in CI): 32 subtask pods from one parent against
  32 bare pods created through the API, to completion (<= 1.2x); medians of three alternating rounds.

The widths are ``BENCH_WIDTHS`` (default 8,32,128,512) to keep a quick run quick; ``BENCH_CLUSTER_ONLY=1``
runs the cluster row alone.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import report, run

PROJECT = Path(__file__).resolve().parent / "project"


def _cowait(*args: str, cwd: Path) -> str:
    return run([sys.executable, "-m", "cowait", *args], cwd=cwd).stdout


BARE_LABEL = "cowait-bench.bare"
CLUSTER_ROUNDS = 3


def _bare_runs(client, image: str, count: int, width: int) -> float:
    """Wall time of ``count`` bare container runs (create, start, wait, remove), ``width`` at a time."""
    def bare(_: int) -> None:
        container = client.containers.create(image, ["python", "-c", "pass"], labels={BARE_LABEL: "1"})
        container.start()
        container.wait()
        container.remove(force=True)

    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=width) as pool:
            list(pool.map(bare, range(count)))
    finally:  # none left behind when the engine gives up on one
        for container in client.containers.list(all=True, filters={"label": BARE_LABEL}):
            container.remove(force=True)
    return time.perf_counter() - start


def main() -> list[dict]:
    import docker

    if os.environ.get("BENCH_CLUSTER_ONLY"):  # the cluster row alone
        return _cluster_fan_out()
    # 512 starts at once keep a 2-core engine busy for minutes: no request times out
    client = docker.from_env(max_pool_size=600, timeout=900)
    widths = [int(w) for w in os.environ.get("BENCH_WIDTHS", "8,32,128,512").split(",")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        shutil.copytree(PROJECT, root)
        image = _cowait("build", "-q", cwd=root).strip()
        try:
            _bare_runs(client, image, 4, 4)  # warm up
            for width in widths:
                bare = _bare_runs(client, image, width, width) / width
                [ours] = json.loads(_cowait("run", "bench_tasks:fan_out", "-i", f"n={width}", "-i", "repeat=1",
                                            "--parallelism", str(width), "-q", cwd=root))
                results.append(report(f"fan-out of {width}, wall per subtask", ours / width,
                                      f"{width} bare SDK runs at once, per run", bare, target=1.0))
            bare = _bare_runs(client, image, 1000, 8)
            thousand = json.loads(_cowait("run", "bench_tasks:thousand", "--parallelism", "8", "-q", cwd=root))
            results.append(report("1,000 subtasks at --parallelism 8", thousand["wall"],
                                  "1,000 bare SDK runs, 8 at a time", bare, target=1.1))
            print(f"{'  parent peak RSS at 1,000 subtasks':<44} {thousand['rss_peak_mib']:9.1f} MiB")
        finally:
            subprocess.run("docker rmi -f $(docker images -q cowait-bench | sort -u)", shell=True,
                           capture_output=True)
    results.extend(_cluster_fan_out())
    return results


def _cluster_fan_out() -> list[dict]:
    """32 subtask pods against 32 bare pods through the API, on COWAIT_TEST_KUBECONFIG's cluster."""
    kubeconfig = os.environ.get("COWAIT_TEST_KUBECONFIG")
    registry = os.environ.get("COWAIT_TEST_REGISTRY")
    if not kubeconfig or not registry:
        print("bench_scale: cluster fan-out skipped (set COWAIT_TEST_KUBECONFIG and COWAIT_TEST_REGISTRY)")
        return []
    from kubernetes import client, config, watch

    core = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
    namespace = f"cowait-bench-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        shutil.copytree(PROJECT, root)
        image = f"{registry}/cowait-bench-{uuid.uuid4().hex[:6]}"
        (root / "cowait.yml").write_text(
            f"version: 1\ncowait:\n  image: {image}\n  clusters:\n    bench:\n      type: kubernetes\n"
            f"      kube_config_file: {kubeconfig}\n      namespace: {namespace}\n")
        try:
            _cowait("cluster", "setup", "bench", cwd=root)
            _cowait("build", "--push", "-q", cwd=root)
            pushed = run(["docker", "inspect", "--format", "{{index .RepoDigests 0}}", f"{image}:latest"]).stdout.strip()

            def bare_pods() -> float:
                names = [f"bare-{uuid.uuid4().hex[:8]}" for _ in range(32)]
                start = time.perf_counter()
                for name in names:
                    core.create_namespaced_pod(namespace, {
                        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"bench": "bare"}},
                        "spec": {"restartPolicy": "Never", "containers": [
                            {"name": "task", "image": pushed, "command": ["python", "-c", "pass"]}]}})
                pending = set(names)
                stream = watch.Watch().stream(core.list_namespaced_pod, namespace, label_selector="bench=bare",
                                              timeout_seconds=600)
                for event in stream:
                    pod = event["object"]
                    if pod.status.phase in ("Succeeded", "Failed"):
                        pending.discard(pod.metadata.name)
                    if not pending:
                        break
                wall = time.perf_counter() - start
                core.delete_collection_namespaced_pod(namespace, label_selector="bench=bare")
                settle()
                return wall

            def settle() -> None:
                """Wait until the namespace has no pods: the next round does not share the engine
                with this one's removal."""
                deadline = time.monotonic() + 120
                while core.list_namespaced_pod(namespace).items and time.monotonic() < deadline:
                    time.sleep(0.5)

            def fan_out() -> float:
                [wall] = json.loads(_cowait("run", "bench_tasks:fan_out", "-i", "n=32", "-i", "repeat=1",
                                            "-c", "bench", "-q", cwd=root))
                settle()
                return wall

            # medians of alternating rounds: on two cores one round of either varies by a second
            pairs = [(bare_pods(), fan_out()) for _ in range(CLUSTER_ROUNDS)]
            bare, ours = statistics.median(b for b, _ in pairs), statistics.median(o for _, o in pairs)
            return [report("cluster: fan-out of 32 pods (wall)", ours, "32 bare pods through the API", bare,
                           target=1.2)]
        finally:
            core.delete_namespace(namespace)
            subprocess.run(f"docker rmi -f $(docker images -q {image} | sort -u)", shell=True, capture_output=True)


if __name__ == "__main__":
    main()
