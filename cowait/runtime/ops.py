"""The functional API used inside tasks: input, exit, spawn, join, wait."""

from __future__ import annotations

from typing import Any, Iterable

from cowait.errors import TaskInputError
from cowait.runtime.context import current_node, require_node
from cowait.runtime.task import TaskExit

_MISSING = object()


def input(name: str, default: Any = _MISSING) -> Any:  # noqa: A001 - the original Cowait's name
    """The task's input ``name``, or ``default`` when it was not given (None is a valid default)."""
    node = current_node()
    inputs = node.inputs if node is not None else {}
    if name in inputs:
        return inputs[name]
    if default is _MISSING:
        task = node.taskdef.name if node is not None else "this task"
        raise TaskInputError(f"task '{task}': input '{name}' is required and has no default")
    return default


def exit(result: Any = None) -> None:  # noqa: A001 - the original Cowait's name
    """End the task now, with ``result`` as its output."""
    raise TaskExit(result)


def spawn(task: Any, inputs: dict[str, Any] | None = None, *, id: str | None = None, image: str | None = None,
          env: dict[str, str] | None = None, volumes: list[dict[str, Any]] | None = None,
          inherit_env: bool = True, inherit_volumes: bool = True, cpu: str | None = None,
          cpu_limit: str | None = None, memory: str | None = None, memory_limit: str | None = None,
          **more_inputs: Any):
    """Start ``task`` (a Task class, a ``@task`` function, or ``'module:Name'``) as a subtask.

    Inputs are ``inputs`` plus any other keyword; the named keywords are options of the child's
    container (an input with one of those names goes in ``inputs``). With ``inherit_env`` or
    ``inherit_volumes`` false, the child does not get the parent's environment or volumes.
    """
    options = {"id": id, "image": image, "env": env, "volumes": volumes, "inherit_env": inherit_env,
               "inherit_volumes": inherit_volumes, "cpu": cpu, "cpu_limit": cpu_limit, "memory": memory,
               "memory_limit": memory_limit}
    return require_node("spawn").spawn(task, {**(inputs or {}), **more_inputs}, **options)


async def join(tasks: Iterable[Any]) -> list[Any]:
    """Wait for every task; return their results in order. The first failure raises TaskError."""
    import asyncio  # here: a task that awaits nothing never imports it (cowait.runtime.lazyloop)

    return list(await asyncio.gather(*tasks))


async def wait(tasks: Iterable[Any], ignore_errors: bool = False) -> None:
    """Wait for every task to end, without collecting results."""
    import asyncio

    await asyncio.gather(*tasks, return_exceptions=ignore_errors)


async def sleep(delay: float, result: Any = None) -> Any:
    """``asyncio.sleep``."""
    import asyncio

    return await asyncio.sleep(delay, result)
