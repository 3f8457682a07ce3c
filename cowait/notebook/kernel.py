"""The Cowait kernel: an IPython kernel in which the notebook is a task.

``cowait`` and ``NotebookRunner`` are in the namespace; tasks constructed in a cell start as
subtasks in their own containers, with the notebook as their parent, and their status and log
lines appear in the cell. ``cowait.exit(value)`` shows the value (and, under NotebookRunner,
ends the notebook with it) without killing the kernel.

Two modes: under ``cowait notebook`` the kernel is a task of its own below the Jupyter server
task; under NotebookRunner (``COWAIT_KERNEL_AS_TASK=1``) the kernel *is* the runner task, so
``cowait.input`` gives the runner's inputs.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from typing import Any

from ipykernel.ipkernel import IPythonKernel

from cowait.notebook import EXIT_MIME
from cowait.runtime import events

AS_TASK_ENV = "COWAIT_KERNEL_AS_TASK"
INPUTS_FILE_ENV = "COWAIT_KERNEL_INPUTS_FILE"


def start_node():
    """The node of this kernel, from the task definition its process inherited (or None)."""
    from cowait.runtime.context import set_node
    from cowait.runtime.node import Node
    from cowait.runtime.taskdef import TaskDefinition, new_task_id
    from cowait.runtime.types import decode

    try:
        taskdef = TaskDefinition.from_environment()
    except (OSError, ValueError, KeyError, TypeError):
        return None  # plain Jupyter, outside cowait: the kernel works, subtasks cannot start
    if os.environ.get(AS_TASK_ENV) == "1":
        inputs: dict[str, Any] = {}
        if os.environ.get(INPUTS_FILE_ENV):
            with open(os.environ[INPUTS_FILE_ENV]) as handle:
                inputs = decode(json.load(handle))
        node = Node(taskdef, inputs)
    else:
        kernel = replace(taskdef, id=new_task_id("kernel"), name="kernel", parent=taskdef.id, inputs={})
        node = Node(kernel, {}, own_slot=False)  # cells run outside the bound: they are the user typing
        events.emit({"type": "init", "id": kernel.id, "name": "kernel", "parent": kernel.parent, "run": kernel.run,
                     "image": kernel.image, "inputs": {}})
        events.emit({"type": "status", "id": kernel.id, "status": "work"})
    set_node(node)
    return node


class CowaitKernel(IPythonKernel):
    """IPython kernel whose notebook is a Cowait task."""

    implementation = "cowait"
    implementation_version = "1"
    banner = "Cowait kernel: the notebook is a task; tasks started in cells run in their own containers."

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        import cowait
        from cowait.runtime.task import TaskExit
        from cowait.tasks.notebook import NotebookRunner

        self.node = start_node()
        self.shell.user_ns["cowait"] = cowait
        self.shell.user_ns["NotebookRunner"] = NotebookRunner
        self.shell.set_custom_exc((TaskExit,), self._show_exit)
        cwd = os.getcwd()
        if cwd not in sys.path:
            sys.path.insert(0, cwd)
        if self.node is not None and os.environ.get(AS_TASK_ENV) != "1":
            # interactive: subtasks show in the cell; under NotebookRunner they are in the task's log
            self.node.listeners.append(self._show_event)

    def _show_exit(self, shell: Any, etype: type, value: Any, tb: Any, tb_offset: Any = None) -> None:
        """``cowait.exit(value)``: display the value; the kernel lives on."""
        from IPython.display import display

        from cowait.runtime.types import encode

        encoded = encode(value.result)
        text = json.dumps(encoded, default=str)
        display({"text/plain": f"cowait.exit: {text[:2000]}", EXIT_MIME: {"result": encoded}}, raw=True)
        return None

    async def do_execute(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """A cell that called ``cowait.exit`` ran fine: its reply is ok, not an error."""
        reply = await super().do_execute(*args, **kwargs)
        if reply.get("status") == "error" and reply.get("ename") == "TaskExit":
            reply = {"status": "ok", "execution_count": reply.get("execution_count"), "payload": [],
                     "user_expressions": {}}
        return reply

    def _show_event(self, event: dict[str, Any]) -> None:
        """A subtask's log line or status change, in the output of the cell that started it."""
        kind = event.get("type")
        task_id = event.get("id", "")
        if kind == "log":
            line = f"{task_id} | {event.get('line', '')}"
        elif kind == "init":
            line = f"{task_id} * {'queued' if event.get('queued') else 'started'} {event.get('name', '')}"
        elif kind == "return":
            line = f"{task_id} * done: {json.dumps(event.get('result'), default=str)[:200]}"
        elif kind == "fail":
            error = event.get("error") or {}
            line = f"{task_id} * failed: {error.get('type', '')}: {error.get('message', '')}"
        else:
            return
        # one write per line, so a line stays whole next to what the cell itself prints
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def do_shutdown(self, restart: bool):
        """Restart or shutdown stops the subtasks this kernel started."""
        if self.node is not None:
            self.node.stop_children()
            if os.environ.get(AS_TASK_ENV) != "1":
                events.emit({"type": "status", "id": self.node.taskdef.id, "status": "stop"})
        return super().do_shutdown(restart)


def main() -> None:
    # Events go to the process's real stdout (the container's stream), taken before ipykernel
    # redirects file descriptor 1 into cell output.
    events.set_output_fd(os.dup(1))
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(kernel_class=CowaitKernel)


if __name__ == "__main__":
    main()
