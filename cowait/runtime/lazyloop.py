"""Run a task's coroutine, importing asyncio and starting its event loop only when the task needs them.

Importing asyncio costs a task container about 40 ms of CPU at start-up (it pulls in ssl, socket,
subprocess, concurrent.futures, ...), most of a trivial subtask's own cost. Many tasks never wait on
anything: they compute and return. So the coroutine is first stepped by hand:

- it returns in that step: that is its result, and asyncio was never needed;
- asyncio gets imported during the step, in the step's thread (the task's code, or the runtime when
  the task starts a subtask, before any thread of its own): at that moment an event loop is created
  and made the thread's running loop, so that
  everything the step does with asyncio (``get_running_loop()``, futures, ``create_task``) works
  as under ``asyncio.run``;
- it suspends (awaits a future): the rest runs on that loop, through ``asyncio.Runner``, which
  also does ``asyncio.run``'s clean-up (remaining tasks cancelled, async generators and the default
  executor shut down).

When asyncio was imported before (the task's module imports it, or a library it uses does), and on
Python 3.10 (no ``asyncio.Runner``), this is ``asyncio.run`` itself.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Coroutine, Generator


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to its end and return its result, as ``asyncio.run`` does."""
    if "asyncio" in sys.modules or sys.version_info < (3, 11):  # no asyncio.Runner before 3.11
        import asyncio

        return asyncio.run(coro)
    watch = _LoopOnImport()
    sys.meta_path.insert(0, watch)
    try:
        first = coro.send(None)
    except StopIteration as done:
        _finish(watch.loop)
        return done.value
    except BaseException:
        _finish(watch.loop)
        raise
    finally:
        watch.remove()
    return _resume(coro, first, watch.loop)


def _resume(coro: Coroutine[Any, Any, Any], first: Any, loop: Any) -> Any:
    """Run the rest of ``coro`` (which yielded ``first``) on ``loop`` (a new one if None)."""
    rest = _Continue(coro, first)

    async def main() -> Any:
        return await rest

    return _run_on(loop, main())


def _finish(loop: Any) -> None:
    """Clean up a loop the step created but never ran: what the task left scheduled is cancelled."""
    if loop is not None:
        _run_on(loop, _nothing())


async def _nothing() -> None:
    return None


def _run_on(loop: Any, coro: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run(coro)`` on ``loop`` (a new one if None), made the running loop on import."""
    import asyncio

    asyncio.events._set_running_loop(None)  # the Runner runs it from here
    with asyncio.Runner(loop_factory=(lambda: loop) if loop is not None else None) as runner:
        return runner.run(coro)


class _Continue:
    """An awaitable that goes on with a coroutine that was stepped by hand and yielded ``first``."""

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self.coro = coro
        self.first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        value = self.first
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                self.coro.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - cancellation and the like go to the task
                try:
                    value = self.coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    value = self.coro.send(sent)
                except StopIteration as done:
                    return done.value


class _LoopOnImport:
    """A meta path finder that, when asyncio is imported, makes a new event loop the running one."""

    def __init__(self) -> None:
        self.loop: Any = None
        self.thread = threading.get_ident()  # the thread stepping the coroutine

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "asyncio":
            return None
        self.remove()
        if threading.get_ident() != self.thread:  # another thread of the task's: a plain import,
            return None                            # its loops are its own
        spec = next(filter(None, (finder.find_spec(name, path, target) for finder in sys.meta_path
                                  if hasattr(finder, "find_spec"))), None)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            load(module)
            self.loop = module.new_event_loop()
            module.events._set_running_loop(self.loop)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]  # this spec's loader only
        return spec
