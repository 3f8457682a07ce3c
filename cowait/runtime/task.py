"""``cowait.Task`` and the ``@cowait.task`` decorator.

Inside a running task, constructing a task (``Square(x=3)``, ``square(x=3)``) starts it as a
subtask in its own container and returns an awaitable handle at once.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from cowait.errors import TaskInputError


class TaskExit(BaseException):
    """Raised by ``cowait.exit(value)``: ends the task early with ``value`` as its result.

    A BaseException, so an ``except Exception`` in user code does not swallow it.
    """

    def __init__(self, result: Any = None) -> None:
        super().__init__(result)
        self.result = result


class Task:
    """Base class of tasks: override ``async def run(self, **inputs)``.

    Lifecycle: ``init()`` (sync), ``await before(inputs) -> inputs``, ``await run(**inputs)``,
    ``await after(inputs)``. Inputs are keyword-only and converted by ``run``'s annotations.
    """

    id: str
    name: str

    def __new__(cls, *args: Any, **inputs: Any):
        if args:
            raise TaskInputError(f"{cls.__name__}() takes keyword inputs only, e.g. {cls.__name__}(x=1)")
        from cowait.runtime.context import require_node

        return require_node(f"start {cls.__name__}").spawn(cls, inputs)

    @classmethod
    def _instantiate(cls, taskdef: Any) -> "Task":
        """Create the instance that runs in this process (bypasses spawning)."""
        instance = object.__new__(cls)
        instance.taskdef = taskdef
        instance.id = taskdef.id
        instance.name = taskdef.name
        instance.init()
        return instance

    @classmethod
    def task_ref(cls) -> str:
        """The reference a container uses to load this task: ``module:Name``."""
        return f"{cls.__module__}:{cls.__qualname__}"

    def init(self) -> None:
        """Called once when the task starts, before inputs are checked."""

    async def before(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """May change the inputs before ``run``; must return them."""
        return inputs

    async def run(self, **inputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define 'async def run(self, **inputs)'")

    async def after(self, inputs: dict[str, Any]) -> None:
        """Called after ``run`` returned."""

    def spawn(self, task: Any, **inputs: Any):
        """Start ``task`` (a Task class, ``@task`` function or reference) as a subtask."""
        from cowait.runtime.context import require_node

        return require_node("spawn").spawn(task, inputs)


def task(fn: Callable[..., Any]) -> type[Task]:
    """Turn an async (or plain) function into a task. Calling it inside a task starts a subtask."""
    if not callable(fn):
        raise TypeError("@cowait.task decorates a function")
    is_async = inspect.iscoroutinefunction(fn)

    async def run(self: Task, **inputs: Any) -> Any:
        result = fn(**inputs)
        if is_async or inspect.isawaitable(result):
            result = await result
        return result

    functools.update_wrapper(run, fn)
    namespace = {
        "run": run,
        "__module__": fn.__module__,
        "__qualname__": fn.__qualname__,
        "__doc__": fn.__doc__,
        "__wrapped__": staticmethod(fn),
    }
    cls = type(fn.__name__, (Task,), namespace)
    return cls


def run_function_of(cls: type[Task]) -> Callable[..., Any]:
    """The user's function (decorated tasks) or ``run`` method (classes)."""
    wrapped = cls.__dict__.get("__wrapped__")
    if isinstance(wrapped, staticmethod):
        return wrapped.__func__
    return cls.run


async def maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def is_task_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, Task) and obj is not Task

