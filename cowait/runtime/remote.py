"""``RemoteTask``: the awaitable handle of a subtask running in its own container."""

from __future__ import annotations

import asyncio
from typing import Any, Generator

from cowait.errors import TaskError
from cowait.runtime.taskdef import TaskDefinition


class RemoteTask:
    """A subtask. ``await handle`` gives its result or raises TaskError."""

    def __init__(self, taskdef: TaskDefinition, loop: asyncio.AbstractEventLoop, inputs: dict[str, Any]) -> None:
        self.taskdef = taskdef
        self.inputs = inputs
        self.status = "wait"
        self.result: Any = None
        self.error: TaskError | None = None
        self.awaited = False
        self._loop = loop
        self._future: asyncio.Future = loop.create_future()
        self._future.add_done_callback(_consume_exception)

    @property
    def id(self) -> str:
        return self.taskdef.id

    @property
    def name(self) -> str:
        return self.taskdef.name

    @property
    def done(self) -> bool:
        return self._future.done()

    def __await__(self) -> Generator[Any, None, Any]:
        self.awaited = True
        return self._future.__await__()

    def __repr__(self) -> str:
        return f"<RemoteTask {self.id} {self.status}>"

    # Called on the event loop's thread (via call_soon_threadsafe) by the node's watcher.
    def _set_status(self, status: str) -> None:
        if not self.done:
            self.status = status

    def _set_result(self, value: Any) -> None:
        if not self._future.done():
            self.status = "done"
            self.result = value
            self._future.set_result(value)

    def _set_error(self, error: TaskError) -> None:
        if not self._future.done():
            self.status = "fail"
            self.error = error
            self._future.set_exception(error)


def _consume_exception(future: asyncio.Future) -> None:
    # A failure nobody awaits is reported by the node when the parent ends, not as
    # "exception was never retrieved" noise at garbage collection.
    if not future.cancelled():
        future.exception()
