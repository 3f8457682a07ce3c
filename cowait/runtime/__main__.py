"""Task container entrypoint (``python -m cowait.runtime``): run the task this container was given."""

from __future__ import annotations

import os
import signal
import sys
import traceback
from typing import Any


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    from cowait.runtime import events
    from cowait.runtime.context import set_node
    from cowait.runtime.node import Node
    from cowait.runtime.taskdef import TaskDefinition
    from cowait.runtime.types import decode

    signal.signal(signal.SIGTERM, _terminate)
    taskdef = TaskDefinition.from_environment()
    _wait_for_file_share(taskdef)
    workdir = os.getcwd()
    if workdir not in sys.path:
        sys.path.insert(0, workdir)
    node = Node(taskdef, decode(taskdef.inputs))
    set_node(node)
    events.emit(taskdef.init_event(events.preview(taskdef.inputs)))
    try:
        from cowait.runtime import lazyloop
        from cowait.runtime.loader import load_task_class

        cls = load_task_class(taskdef.name)
        lazyloop.run(_execute_and_return(node, cls))
    except BaseException as exc:  # noqa: BLE001 - every failure is reported as an event
        node.stop_children()
        error = _describe(exc)
        events.emit({"type": "fail", "id": taskdef.id, "error": error})
        events.emit({"type": "status", "id": taskdef.id, "status": "fail"})
        return 1
    return 0


async def _execute_and_return(node: Any, cls: type) -> None:
    """Run the task, send its result, then finish what it left to do after the result."""
    from cowait.runtime import events
    from cowait.runtime.executor import execute

    try:
        result = await execute(node, cls)
    except Exception:
        await node.finish_after_result()
        raise
    node.stop_children(remove_ended=False)
    events.emit({"type": "return", "id": node.taskdef.id, "result": result})
    events.emit({"type": "status", "id": node.taskdef.id, "status": "done"})
    node.remove_ended()  # the result is out: the parent goes on while this removes
    await node.finish_after_result()


def _wait_for_file_share(taskdef: "TaskDefinition") -> None:  # noqa: F821 - imported in main
    """In a pod with the file share, start once the caller's folder is mounted (the sidecar starts
    alongside), and enter the working directory again so that it is the share, not what is under it."""
    share = taskdef.engine_options.get("fileshare")
    if not share:
        return
    from cowait.fileshare.relay import wait_mounted

    target = share["target"]
    if not wait_mounted(target):
        print(f"cowait: the file share did not mount on {target} within 60 s; going on with the image's files",
              file=sys.stderr)
    os.chdir(taskdef.workdir)


def _describe(exc: BaseException) -> dict[str, str]:
    from cowait.errors import CowaitError, TaskError

    if isinstance(exc, SystemExit) and exc.code in (128 + signal.SIGTERM, 128 + signal.SIGINT):
        return {"type": "Stopped", "message": "stopped by a signal", "traceback": ""}
    if isinstance(exc, KeyboardInterrupt):
        return {"type": "Stopped", "message": "interrupted", "traceback": ""}
    text = _user_traceback(exc)
    if isinstance(exc, TaskError):
        return {"type": "TaskError", "message": str(exc), "traceback": (exc.traceback + "\n" + text).strip()}
    if isinstance(exc, CowaitError):  # a mistake named in words: cowait's frames add nothing
        return {"type": type(exc).__name__, "message": str(exc), "traceback": getattr(exc, "details", "")}
    return {"type": type(exc).__name__, "message": str(exc), "traceback": text}


def _user_traceback(exc: BaseException) -> str:
    """The traceback without cowait's own runtime frames and asyncio's: what the user's code did."""
    hidden = [os.path.dirname(os.path.abspath(__file__))]
    if "asyncio" in sys.modules:  # not imported: no asyncio frames to hide
        hidden.append(os.path.dirname(sys.modules["asyncio"].__file__))
    summary = traceback.TracebackException.from_exception(exc)
    summary.stack = traceback.StackSummary.from_list(
        [frame for frame in summary.stack if not frame.filename.startswith(tuple(hidden))]
    )
    return "".join(summary.format())


if __name__ == "__main__":
    sys.exit(main())
