"""Execute a notebook headless in the Cowait kernel: parameters, per-cell status and timing, the
executed notebook saved as it goes (so a failed run still leaves a readable notebook), and the
value given to ``cowait.exit``."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from cowait.errors import CowaitError
from cowait.notebook import EXIT_MIME

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookError(CowaitError):
    """A cell failed: names the notebook, the cell and the exception; ``details`` is its traceback."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


def read_notebook(path: Path):
    """Read and validate a notebook; a one-line NotebookError when it is missing or not nbformat."""
    import nbformat

    if not path.is_file():
        raise NotebookError(f"notebook not found: {path}")
    try:
        notebook = nbformat.read(str(path), as_version=4)
        nbformat.validate(notebook)
    except (ValueError, nbformat.ValidationError) as exc:  # NotJSONError is a ValueError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotebookError(f"{path.name} is not a valid notebook: {first[:200]}") from exc
    return notebook


def _literal(value: Any) -> str:
    """Python source for an input value (papermill's convention: assignments in a cell)."""
    if isinstance(value, datetime):
        return f"__import__('datetime').datetime.fromisoformat({value.isoformat()!r})"
    if isinstance(value, date):
        return f"__import__('datetime').date.fromisoformat({value.isoformat()!r})"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def inject_parameters(notebook: Any, inputs: dict[str, Any]) -> None:
    """After the cell tagged ``parameters`` (if any), put a cell that assigns the inputs."""
    import nbformat

    cells = notebook.cells
    cells[:] = [c for c in cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    index = next((i for i, c in enumerate(cells) if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])), None)
    if index is None or not inputs:
        return
    source = "# Parameters\n" + "\n".join(f"{name} = {_literal(value)}" for name, value in inputs.items()
                                          if name.isidentifier())
    cell = nbformat.v4.new_code_cell(source=source, metadata={"tags": [INJECTED_TAG]})
    cells.insert(index + 1, cell)


def _echoing_client_class():
    from nbclient import NotebookClient

    class EchoingClient(NotebookClient):
        """Also prints what cells print, as it happens, so it reaches the task's log."""

        def output(self, outs, msg, display_id, cell_index):  # noqa: ANN001, ANN201 - nbclient's hook
            if msg.get("msg_type") == "stream":
                text = msg.get("content", {}).get("text", "")
                if text:
                    print(text, end="" if text.endswith("\n") else "\n", flush=True)
            return super().output(outs, msg, display_id, cell_index)

    return EchoingClient


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _first_line(cell: Any) -> str:
    source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:80]
    return ""


def _exit_value(cell: Any) -> tuple[bool, Any]:
    for output in cell.get("outputs", []):
        data = output.get("data") or {}
        if EXIT_MIME in data:
            payload = data[EXIT_MIME]
            if isinstance(payload, str):
                payload = json.loads(payload)
            return True, payload.get("result")
    return False, None


def _save(notebook: Any, output: Path | None) -> None:
    if output is None:
        return
    import nbformat

    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".ipynb.tmp")
    nbformat.write(notebook, str(tmp))
    os.replace(tmp, output)


async def execute_notebook(path: Path, inputs: dict[str, Any], output: Path | None = None, *,
                           task_id: str = "", kernel_name: str = "cowait", as_task: bool = True) -> Any:
    """Run every code cell of ``path`` in a fresh kernel; return the ``cowait.exit`` value or None.

    ``inputs`` reach ``cowait.input`` (and a ``parameters`` cell); ``output`` receives the executed
    notebook after every cell. A failing cell raises NotebookError naming notebook, cell and error.
    """
    from nbclient.exceptions import CellExecutionError

    from cowait.runtime.types import decode, encode

    notebook = read_notebook(path)
    inject_parameters(notebook, inputs)
    meta = notebook.metadata.setdefault("cowait", {})
    meta.update({"task": task_id, "inputs": encode(inputs), "status": "running", "start": _now(), "end": None})
    code_cells = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    for _, cell in code_cells:
        cell.metadata["cowait"] = {"status": "pending", "start": None, "end": None, "duration": None}
    _save(notebook, output)

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(encode(inputs), handle)
        inputs_file = handle.name
    env = {**os.environ, "COWAIT_KERNEL_INPUTS_FILE": inputs_file, "COWAIT_KERNEL_AS_TASK": "1" if as_task else "0"}
    from traitlets.config import Config

    config = Config()
    config.KernelManager.transport = "ipc"  # a local kernel: unix sockets, no TCP ports ...
    # ... in a private folder: the default is the working directory, which sibling tasks share
    config.KernelManager.ip = os.path.join(tempfile.mkdtemp(prefix="cowait-kernel-"), "kernel")
    client = _echoing_client_class()(notebook, kernel_name=kernel_name, timeout=None, allow_errors=False,
                            record_timing=True, resources={"metadata": {"path": str(path.parent)}}, config=config)
    finished, value = False, None
    try:
        async with client.async_setup_kernel(env=env):
            for number, (index, cell) in enumerate(code_cells, start=1):
                state = cell.metadata["cowait"]
                state.update(status="running", start=_now())
                started = time.monotonic()
                _save(notebook, output)
                try:
                    await client.async_execute_cell(cell, index, execution_count=number)
                except CellExecutionError as exc:
                    state.update(status="failed", end=_now(), duration=round(time.monotonic() - started, 3))
                    meta.update(status="failed", end=_now())
                    _save(notebook, output)
                    error = f"{exc.ename}: {exc.evalue}" if getattr(exc, "ename", None) else str(exc).splitlines()[0]
                    raise NotebookError(f"{path.name}: cell {number} ({_first_line(cell)}) failed: {error}",
                                        details=_ANSI.sub("", str(exc))) from None
                state.update(status="completed", end=_now(), duration=round(time.monotonic() - started, 3))
                finished, value = _exit_value(cell)
                if finished:
                    break
            for _, cell in code_cells:
                if cell.metadata["cowait"]["status"] == "pending":
                    cell.metadata["cowait"]["status"] = "skipped"  # after cowait.exit
        meta.update(status="completed", end=_now())
        _save(notebook, output)
    finally:
        os.unlink(inputs_file)
    return decode(value) if finished else None
