"""``cowait.tasks.notebook.NotebookRunner``: run a notebook as a task, in the Cowait kernel."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cowait.runtime.task import Task
from cowait.runtime.taskdef import PROJECT_MOUNT


class NotebookRunner(Task):
    """Runs every cell of the notebook at ``path``; returns what it passes to ``cowait.exit``.

    Other inputs reach ``cowait.input`` in the notebook (and a cell tagged ``parameters``). The
    executed notebook, with outputs and per-cell status and timing, is saved to ``output_path``,
    by default under ``.cowait/runs/<run-id>/`` in the project.
    """

    @classmethod
    def prepare_inputs(cls, inputs: dict[str, Any]) -> dict[str, Any]:
        """In the parent: a relative path is relative to the parent's folder (a notebook's)."""
        path = inputs.get("path")
        if isinstance(path, str) and not os.path.isabs(path):
            inputs = {**inputs, "path": os.path.join(os.getcwd(), path)}
        return inputs

    async def run(self, path: str, output_path: str = None, **inputs: Any) -> Any:  # noqa: RUF013
        from cowait.notebook.execute import execute_notebook
        from cowait.runtime.context import current_node

        node = current_node()
        # the result goes to the parent while the kernel's process ends (the runtime awaits that)
        defer = node.after_result if node is not None and node.taskdef.id == self.id else None
        notebook = Path(path if path.endswith(".ipynb") else f"{path}.ipynb")
        if not notebook.is_absolute():
            notebook = Path.cwd() / notebook
        output = Path(output_path) if output_path else default_output(notebook, self.taskdef)
        if output is not None:
            shown = output.relative_to(PROJECT_MOUNT) if output.is_relative_to(PROJECT_MOUNT) else output
            print(f"executed notebook: {shown}", flush=True)
            return await execute_notebook(notebook, inputs, output, task_id=self.id, defer=defer)
        # The project is not mounted (a cluster pod, or a run of what the image holds): the executed
        # notebook travels to the caller as an event, and lands in the run's record there.
        import tempfile

        name = f"{notebook.stem}-{self.id}.ipynb"
        output = Path(tempfile.mkdtemp(prefix="cowait-notebook-")) / name
        print(f"executed notebook: .cowait/runs/{self.taskdef.run}/{name}", flush=True)
        try:
            return await execute_notebook(notebook, inputs, output, task_id=self.id, defer=defer)
        finally:
            from cowait.runtime import events

            events.send_file(self.id, "notebook", str(output))


def default_output(notebook: Path, taskdef: Any) -> Path | None:
    """``.cowait/runs/<run>/<name>-<task>.ipynb`` in the project, when the project is mounted."""
    mounted = any(v.get("target") == PROJECT_MOUNT for v in taskdef.volumes)
    if not mounted:
        return None
    return Path(PROJECT_MOUNT) / ".cowait" / "runs" / taskdef.run / f"{notebook.stem}-{taskdef.id}.ipynb"
