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


@cowait.task
async def phases(kernel: str = "cowait", repeat: int = 3) -> dict:
    """Where a notebook run's time goes, in this container: kernel start, cells, shutdown."""
    import os

    from jupyter_client.manager import start_new_async_kernel

    from cowait.notebook.execute import read_notebook

    notebook = read_notebook(Path("three_cells.ipynb"))
    cells = [c.source for c in notebook.cells if c.cell_type == "code"]
    rows = []
    for index in range(repeat + 1):
        env = {**os.environ, "COWAIT_KERNEL_AS_TASK": "0"}
        start = time.perf_counter()
        manager, client = await start_new_async_kernel(kernel_name=kernel, env=env)
        started = time.perf_counter()
        for source in cells:
            await client.execute_interactive(source, timeout=60, output_hook=lambda msg: None)
        executed = time.perf_counter()
        client.stop_channels()
        await manager.shutdown_kernel()
        ended = time.perf_counter()
        if index:
            rows.append({"start": started - start, "cells": executed - started, "shutdown": ended - executed})
    return {key: statistics.median(r[key] for r in rows) for key in rows[0]}


@cowait.task
async def spawn_phases(repeat: int = 3) -> dict:
    """A trivial subtask's spawn to result (the container and runtime), against NotebookRunner's."""
    from bench_tasks import noop

    from cowait.tasks.notebook import NotebookRunner

    noops, runners = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        await noop()
        noops.append(time.perf_counter() - start)
        start = time.perf_counter()
        await NotebookRunner(path="three_cells.ipynb")
        runners.append(time.perf_counter() - start)
    return {"noop": statistics.median(noops), "runner": statistics.median(runners)}
