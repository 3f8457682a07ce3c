"""Notebook execution timed inside one container: NotebookRunner's engine against papermill."""

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import cowait


def _papermill(path: Path, out: Path) -> None:
    import papermill

    papermill.execute_notebook(str(path), str(out), kernel_name="python3", progress_bar=False, log_output=False)


@cowait.task
async def notebook_vs_papermill(repeat: int = 5) -> dict:
    from cowait.notebook.execute import execute_notebook

    path = Path("three_cells.ipynb").resolve()
    out = Path(tempfile.mkdtemp())
    ours, theirs = [], []
    for index in range(repeat + 1):  # the first round warms both up
        start = time.perf_counter()
        await execute_notebook(path, {}, out / f"cowait-{index}.ipynb")
        cowait_time = time.perf_counter() - start
        start = time.perf_counter()
        await asyncio.to_thread(_papermill, path, out / f"papermill-{index}.ipynb")
        papermill_time = time.perf_counter() - start
        if index:
            ours.append(cowait_time)
            theirs.append(papermill_time)
    return {"cowait": statistics.median(ours), "papermill": statistics.median(theirs)}


@cowait.task
async def runner_subtask(repeat: int = 3) -> float:
    """Spawn to result of a NotebookRunner subtask on the same notebook (informational)."""
    from cowait.tasks.notebook import NotebookRunner

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await NotebookRunner(path="three_cells.ipynb")
        times.append(time.perf_counter() - start)
    return statistics.median(times)
