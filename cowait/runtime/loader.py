"""Resolve a task reference (``module`` or ``module:Name``) to a Task class."""

from __future__ import annotations

import importlib
import importlib.util
import sys

from cowait.errors import TaskNotFound
from cowait.runtime.task import Task, is_task_class


def load_task_class(ref: str) -> type[Task]:
    """Import the module of ``ref`` and return its task.

    ``module`` must define exactly one task; ``module:Name`` picks one. An ImportError raised
    by the module's own code propagates as it is (it is the user's bug, not a missing task).
    """
    module_name, _, attr = ref.partition(":")
    if not module_name:
        raise TaskNotFound(f"'{ref}' is not a task reference", hint="use MODULE or MODULE:NAME")
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise TaskNotFound(f"no module named '{module_name}'",
                           hint=f"is {module_name.replace('.', '/')}.py in the project (and in the image)?")
    module = importlib.import_module(module_name)
    if attr:
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part, None)
        if not is_task_class(obj):
            raise TaskNotFound(f"'{attr}' in module '{module_name}' is not a task",
                               hint="subclass cowait.Task or decorate a function with @cowait.task")
        return obj
    tasks = [obj for obj in vars(module).values() if is_task_class(obj) and obj.__module__ == module.__name__]
    if not tasks:
        raise TaskNotFound(f"module '{module_name}' defines no task",
                           hint="subclass cowait.Task or decorate a function with @cowait.task")
    if len(tasks) > 1:
        names = ", ".join(sorted(t.__qualname__ for t in tasks))
        raise TaskNotFound(f"module '{module_name}' defines several tasks ({names})",
                           hint=f"name one, e.g. {module_name}:{sorted(t.__qualname__ for t in tasks)[0]}")
    return tasks[0]


def ref_of(target: object) -> tuple[str, type[Task] | None]:
    """(reference, class if known) of a spawn target: a Task class or a reference string."""
    if is_task_class(target):
        cls = target  # type: ignore[assignment]
        module = cls.__module__
        if module == "__main__":
            main = sys.modules.get("__main__")
            spec = getattr(main, "__spec__", None)
            module = spec.name if spec is not None else module
        return f"{module}:{cls.__qualname__}", cls
    if isinstance(target, str):
        return target, None
    raise TypeError(f"cannot start {target!r}: expected a Task class, a @task function or 'module:Name'")
