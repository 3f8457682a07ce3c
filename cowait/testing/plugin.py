"""The cowait pytest plugin (entry point ``pytest11``): async tests without decorators, a per-test
timeout, fixtures that run tasks, and, inside ``cowait test``, the test session as the current
task, so ``await SomeTask(...)`` in a test starts a real subtask."""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import Any

import pytest

from cowait.testing import JUNIT_FILE

DEFAULT_TIMEOUT = 300.0


def _events_fd() -> int | None:
    """A copy of the real stdout, taken when pytest loads this plugin: before it captures output,
    so subtask events reach the container's stream even while a test runs."""
    import os

    from cowait.runtime.taskdef import TASK_ENV, TASK_FILE_ENV

    if os.environ.get(TASK_ENV) or os.environ.get(TASK_FILE_ENV):
        return os.dup(1)
    return None


_EVENTS_FD = _events_fd()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("async_timeout", "Seconds an async test may run (cowait plugin)", default=str(DEFAULT_TIMEOUT))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "async_timeout(seconds): time limit of one async test (cowait plugin)")
    node = _start_session_task()
    config._cowait_node = node  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    node = getattr(config, "_cowait_node", None)
    if node is not None:
        node.stop_children()
        _send_junit_report(config, node)


def _send_junit_report(config: pytest.Config, node: Any) -> None:
    """The JUnit report travels to the caller's record as an event, so it works on any engine (a
    finished pod cannot be copied from)."""
    from cowait.runtime import events

    path = getattr(config.option, "xmlpath", None)
    if path:
        events.send_file(node.taskdef.id, "junitxml", path, file=JUNIT_FILE)


def _start_session_task():
    """Inside a cowait test container, the session is the task the container was given."""
    import os

    from cowait.runtime.taskdef import TASK_ENV, TASK_FILE_ENV

    if not (os.environ.get(TASK_ENV) or os.environ.get(TASK_FILE_ENV)):
        return None
    from cowait.runtime import events
    from cowait.runtime.context import set_node
    from cowait.runtime.node import Node
    from cowait.runtime.taskdef import TaskDefinition

    if _EVENTS_FD is not None:
        events.set_output_fd(_EVENTS_FD)
    taskdef = TaskDefinition.from_environment()
    node = Node(taskdef, {})
    set_node(node)
    events.emit(taskdef.init_event({}))
    events.emit({"type": "status", "id": taskdef.id, "status": "work"})
    return node


def _handled_elsewhere(item: pytest.Function) -> bool:
    # pytest-asyncio and anyio run the tests they mark themselves
    return any(item.get_closest_marker(name) for name in ("asyncio", "anyio", "trio"))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    function = pyfuncitem.obj
    if not inspect.iscoroutinefunction(function) or _handled_elsewhere(pyfuncitem):
        return None
    marker = pyfuncitem.get_closest_marker("async_timeout")
    timeout = float(marker.args[0]) if marker and marker.args else float(pyfuncitem.config.getini("async_timeout"))
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}

    async def run() -> None:
        try:
            await asyncio.wait_for(function(**arguments), timeout)
        except asyncio.TimeoutError:
            pytest.fail(f"async test took longer than {timeout:g}s (raise it with @pytest.mark.async_timeout(N) "
                        "or 'async_timeout' in pytest.ini)", pytrace=False)

    asyncio.run(run())
    return True


@pytest.fixture
def run_task():
    """``await run_task(TaskOrRef, **inputs)``: start a task as a subtask and return its result."""

    async def run(task: Any, **inputs: Any) -> Any:
        from cowait.runtime.ops import spawn

        return await spawn(task, **inputs)

    return run


@pytest.fixture
def spawn_task():
    """``spawn_task(TaskOrRef, **inputs)``: start a subtask; returns its awaitable handle."""
    from cowait.runtime.ops import spawn

    return functools.partial(spawn)
