"""A 3-cell notebook against papermill on the same notebook in a running container: NotebookRunner's
execution there (target <= 1.0x), and a NotebookRunner subtask's spawn to result, its own container
started and stopped included (target <= 1.5x)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import report, run

PROJECT = Path(__file__).resolve().parent / "project"


def main() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        shutil.copytree(PROJECT, root)
        cowait = [sys.executable, "-m", "cowait"]
        run([*cowait, "build", "-q"], cwd=root)
        try:
            times = json.loads(run([*cowait, "run", "bench_notebooks:notebook_vs_papermill", "-q"], cwd=root).stdout)
            results = [report("NotebookRunner engine, 3-cell notebook", times["cowait"],
                              "papermill, same notebook and container", times["papermill"], target=1.0)]
            subtask = json.loads(run([*cowait, "run", "bench_notebooks:runner_subtask", "-q"], cwd=root).stdout)
            results.append(report("NotebookRunner subtask (spawn to result)", subtask,
                                  "papermill, same notebook and container", times["papermill"], target=1.5))
            return results
        finally:
            subprocess.run("docker rmi -f $(docker images -q cowait-bench | sort -u)", shell=True, capture_output=True)


if __name__ == "__main__":
    main()
