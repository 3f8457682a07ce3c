"""Execute a notebook headless in the Cowait kernel: parameters, per-cell status and timing, the
executed notebook saved as it goes (so a failed run still leaves a readable notebook), and the
value given to ``cowait.exit``."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

from cowait.errors import CowaitError
from cowait.notebook import EXIT_MIME

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
log = logging.getLogger("cowait.notebook")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookError(CowaitError):
    """A cell failed: names the notebook, the cell and the exception; ``details`` is its traceback."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


def import_nbformat():
    """nbformat, imported without jsonschema's IRI format checker.

    jsonschema imports every optional format checker it finds when it is imported; Jupyter's own
    dependencies install ``rfc3987_syntax``, which builds some thirty parsers at import time (about
    a second, most of a notebook subtask's start; python-jsonschema/jsonschema#1428). nbformat's
    schema checks no ``iri`` format, so while nbformat is first imported that module reads as absent.
    """
    if "nbformat" not in sys.modules and "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment] - import raises ImportError
        try:
            import nbformat
        finally:
            if "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None:
                del sys.modules["rfc3987_syntax"]  # an import of it later in this process works again
    import nbformat

    return nbformat


def read_notebook(path: Path):
    """Read and validate a notebook; a one-line NotebookError when it is missing or not nbformat."""
    nbformat = import_nbformat()

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
    nbformat = import_nbformat()

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
    nbformat = import_nbformat()

    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".ipynb.tmp")
    nbformat.write(notebook, str(tmp))
    os.replace(tmp, output)


async def _start_kernel(kernel_name: str, env: dict[str, str], cwd: Path) -> Any:
    """Launch the kernel process and return its manager at once: it boots while this process goes
    on importing nbformat and nbclient (a second or so of imports in all, side by side)."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets.config import Config

    config = Config()
    config.KernelManager.transport = "ipc"  # a local kernel: unix sockets, no TCP ports ...
    # ... in a private folder: the default is the working directory, which sibling tasks share
    config.KernelManager.ip = os.path.join(tempfile.mkdtemp(prefix="cowait-kernel-"), "kernel")
    manager = AsyncKernelManager(kernel_name=kernel_name, config=config)
    # no history database: a headless run has no use for it (nbclient does the same)
    await manager.start_kernel(env=env, cwd=str(cwd), extra_arguments=["--HistoryManager.hist_file=:memory:"])
    return manager


async def _stop_kernel(manager: Any) -> None:
    """Shut the kernel down (it stops the subtasks it started), and tidy its files away."""
    try:
        if await manager.is_alive():
            await manager.request_shutdown()
            await _kernel_exited(manager)
    finally:
        await manager.cleanup_resources()


async def _kernel_exited(manager: Any) -> None:
    """Wait for a kernel told to shut down to end, polled every 20 ms (shutdown_kernel's 100 ms
    would hold a notebook subtask's result back); killed if it has not within the wait time."""
    await manager.finish_shutdown(pollinterval=0.02)


async def _shut_down(client: Any, timeout: float = 10) -> bool:
    """Ask the kernel to shut down over its control channel and wait for its reply: by then it has
    stopped the subtasks it started. False when no reply came (the caller then stops it outright)."""
    msg_id = client.shutdown()
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            reply = await client.get_control_msg(timeout=left)
        except Exception:  # noqa: BLE001 - queue.Empty on timeout, or a closed channel
            log.debug("no shutdown reply from the kernel", exc_info=True)
            return False
        if reply.get("parent_header", {}).get("msg_id") == msg_id:
            return True
    return False


async def _finish_kernel(manager: Any) -> None:
    try:
        await _kernel_exited(manager)
    finally:
        await manager.cleanup_resources()


async def execute_notebook(path: Path, inputs: dict[str, Any], output: Path | None = None, *,
                           task_id: str = "", kernel_name: str = "cowait", as_task: bool = True,
                           defer: Callable[[Awaitable[None]], None] | None = None) -> Any:
    """Run every code cell of ``path`` in a fresh kernel; return the ``cowait.exit`` value or None.

    ``inputs`` reach ``cowait.input`` (and a ``parameters`` cell); ``output`` receives the executed
    notebook after every cell. A failing cell raises NotebookError naming notebook, cell and error.
    ``defer``, if given, is handed the wait for the kernel's process to end once the kernel has shut
    down (its subtasks stopped), so that the value need not wait for it.
    """
    from cowait.runtime.types import decode, encode

    if not path.is_file():
        raise NotebookError(f"notebook not found: {path}")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(encode(inputs), handle)
        inputs_file = handle.name
    env = {**os.environ, "COWAIT_KERNEL_INPUTS_FILE": inputs_file, "COWAIT_KERNEL_AS_TASK": "1" if as_task else "0"}
    try:
        manager = await _start_kernel(kernel_name, env, path.parent)
        shut = False
        try:
            notebook, code_cells = _prepare(path, inputs, output, task_id)
            client = _echoing_client_class()(notebook, km=manager, timeout=None, allow_errors=False,
                                             record_timing=True, resources={"metadata": {"path": str(path.parent)}})
            async with client.async_setup_kernel(cleanup_kc=False):
                try:
                    finished, value = await _run_cells(client, path, notebook, code_cells, output)
                    shut = await _shut_down(client.kc)
                finally:
                    client.kc.stop_channels()
        finally:
            if not shut:
                await _stop_kernel(manager)
            elif defer is not None:
                defer(_finish_kernel(manager))
            else:
                await _finish_kernel(manager)
    finally:
        os.unlink(inputs_file)
    return decode(value) if finished else None


def _prepare(path: Path, inputs: dict[str, Any], output: Path | None, task_id: str) -> tuple[Any, list]:
    """The notebook with its inputs injected and every code cell pending (saved so at once)."""
    from cowait.runtime.types import encode

    notebook = read_notebook(path)
    inject_parameters(notebook, inputs)
    meta = notebook.metadata.setdefault("cowait", {})
    meta.update({"task": task_id, "inputs": encode(inputs), "status": "running", "start": _now(), "end": None})
    code_cells = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    for _, cell in code_cells:
        cell.metadata["cowait"] = {"status": "pending", "start": None, "end": None, "duration": None}
    _save(notebook, output)
    return notebook, code_cells


async def _run_cells(client: Any, path: Path, notebook: Any, code_cells: list, output: Path | None) -> tuple[bool, Any]:
    """Execute the code cells in the client's kernel, saving as it goes; (exited, value)."""
    from nbclient.exceptions import CellExecutionError

    meta = notebook.metadata["cowait"]
    finished, value = False, None
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
    return finished, value
