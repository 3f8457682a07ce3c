"""Subtask latency and fan-out, against bare containers of the same image in the same run.

- round trip of one trivial subtask (spawn to result, timed inside the parent task) against
  `docker run --rm IMAGE python -c pass` (target <= 1.15x);
- 32 trivial subtasks from one parent (wall time) against 32 concurrent bare container runs
  through the Docker SDK (create, start, wait, remove; target <= 1.3x).
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import report, run, timed

PROJECT = Path(__file__).resolve().parent / "project"


def _cowait(*args: str, cwd: Path) -> str:
    return run([sys.executable, "-m", "cowait", *args], cwd=cwd).stdout


def main() -> list[dict]:
    import docker

    client = docker.from_env(max_pool_size=64)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        shutil.copytree(PROJECT, root)
        image = _cowait("build", "-q", cwd=root).strip()
        try:
            docker_run = timed(lambda: run(["docker", "run", "--rm", image, "python", "-c", "pass"]), repeat=7)
            trips = json.loads(_cowait("run", "bench_tasks:round_trip", "-q", cwd=root))
            results = [report("subtask round trip (spawn to result)", statistics.median(trips),
                              "docker run --rm IMAGE python -c pass", docker_run, target=1.15)]

            def bare() -> None:
                container = client.containers.create(image, ["python", "-c", "pass"])
                container.start()
                container.wait()
                container.remove(force=True)

            def bare_32() -> None:
                with ThreadPoolExecutor(max_workers=32) as pool:
                    list(pool.map(lambda _: bare(), range(32)))

            sdk_32 = timed(bare_32, repeat=3)
            fans = json.loads(_cowait("run", "bench_tasks:fan_out", "-q", cwd=root))
            results.append(report("32 subtasks from one parent (wall)", statistics.median(fans),
                                  "32 concurrent SDK container runs", sdk_32, target=1.3))
            return results
        finally:
            subprocess.run("docker rmi -f $(docker images -q cowait-bench | sort -u)", shell=True,
                           capture_output=True)


if __name__ == "__main__":
    main()
