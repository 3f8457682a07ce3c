"""``RemoteTask``: the awaitable handle of a subtask running in its own container."""

from __future__ import annotations

import concurrent.futures
from typing import Any, Generator

from cowait.errors import TaskError
from cowait.runtime.taskdef import TaskDefinition


class RemoteTask:
    """A subtask. ``await handle`` gives its result or raises TaskError.

    The outcome lives in a thread-safe future that the watcher thread settles, so a handle can
    be awaited from any event loop: a task's, a notebook kernel's, or a test's.
    """

    def __init__(self, taskdef: TaskDefinition, inputs: dict[str, Any]) -> None:
        self.taskdef = taskdef
        self.inputs = inputs
        self.status = "wait"
        self.result: Any = None
        self.error: TaskError | None = None
        self.awaited = False
        self._future: concurrent.futures.Future = concurrent.futures.Future()
        self._slots: Any = None  # the parent's Slots: its code gives up its slot while it waits

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
        import asyncio  # here, not at the top: a task that awaits nothing never imports it (lazyloop)

        self.awaited = True
        if self._slots is None or self.done:
            return asyncio.wrap_future(self._future).__await__()
        return self._await_giving_up_slot().__await__()

    async def _await_giving_up_slot(self) -> Any:
        import asyncio

        self._slots.waiting()
        try:
            return await asyncio.wrap_future(self._future)
        finally:
            reclaim = self._slots.resumed()
            if reclaim is not None:
                await reclaim

    def wait(self, timeout: float | None = None) -> Any:
        """Block until the subtask ends (for synchronous code); return its result."""
        self.awaited = True
        if self._slots is None or self.done:
            return self._future.result(timeout)
        self._slots.waiting()
        try:
            return self._future.result(timeout)
        finally:
            reclaim = self._slots.resumed()
            if reclaim is not None:
                reclaim.wait()

    def __repr__(self) -> str:
        return f"<RemoteTask {self.id} {self.status}>"

    # Called by the node's watcher thread.
    def _set_status(self, status: str) -> None:
        if not self.done:
            self.status = status

    def _set_result(self, value: Any) -> None:
        if not self._future.done():
            self.status = "done"
            self.result = value
            try:
                self._future.set_result(value)
            except concurrent.futures.InvalidStateError:
                pass

    def _set_error(self, error: TaskError) -> None:
        if not self._future.done():
            self.status = "fail"
            self.error = error
            try:
                self._future.set_exception(error)
            except concurrent.futures.InvalidStateError:
                pass
