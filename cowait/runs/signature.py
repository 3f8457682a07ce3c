"""Read a task module's tasks and their inputs from its source (no import), so the CLI can refuse a
wrong task name or input before any container starts."""

from __future__ import annotations

import ast
import inspect
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

from cowait.errors import TaskNotFound
from cowait.runtime.types import bind_inputs

# Annotations the CLI can check without importing the module; others are checked in the task.
_SIMPLE = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict,
           "datetime": datetime, "date": date}


def _is_task_decorator(node: ast.expr) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return (isinstance(target, ast.Name) and target.id == "task") or (
        isinstance(target, ast.Attribute) and target.attr == "task")


def _is_task_base(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id in ("Task", "ShellTask")) or (
        isinstance(node, ast.Attribute) and node.attr == "Task")


def module_tasks(path: Path) -> dict[str, ast.AST]:
    """Top-level tasks of a module file: ``@task`` functions and Task subclasses, by name."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(map(_is_task_decorator, node.decorator_list)):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef) and any(map(_is_task_base, node.bases)):
            run = next((n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "run"), None)
            found[node.name] = run if run is not None else node
    return found


def _stand_in(node: ast.AST) -> Callable[..., Any] | None:
    """A function with the task's signature and the annotations we can check."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    args = node.args
    params: list[inspect.Parameter] = []
    annotations: dict[str, Any] = {}
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for arg, default in zip(positional, defaults):
        if arg.arg == "self":
            continue
        params.append(inspect.Parameter(arg.arg, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                        default=inspect.Parameter.empty if default is None else ...))
        if isinstance(arg.annotation, ast.Name) and arg.annotation.id in _SIMPLE:
            annotations[arg.arg] = _SIMPLE[arg.annotation.id]
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        params.append(inspect.Parameter(arg.arg, inspect.Parameter.KEYWORD_ONLY,
                                        default=inspect.Parameter.empty if default is None else ...))
        if isinstance(arg.annotation, ast.Name) and arg.annotation.id in _SIMPLE:
            annotations[arg.arg] = _SIMPLE[arg.annotation.id]
    if args.vararg is not None:
        params.append(inspect.Parameter(args.vararg.arg, inspect.Parameter.VAR_POSITIONAL))
    if args.kwarg is not None:
        params.append(inspect.Parameter(args.kwarg.arg, inspect.Parameter.VAR_KEYWORD))

    def stand_in(**kwargs: Any) -> None:
        return None

    stand_in.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    stand_in.__annotations__ = annotations
    return stand_in


def check_task_inputs(path: Path, ref: str, inputs: dict[str, Any]) -> None:
    """Refuse an ambiguous or missing task, or wrong inputs, as the container would (but earlier)."""
    module, _, name = ref.partition(":")
    try:
        tasks = module_tasks(path)
    except (SyntaxError, UnicodeDecodeError, OSError):
        return  # the task itself will report it, with its traceback
    if not name:
        if len(tasks) > 1:
            names = sorted(tasks)
            raise TaskNotFound(f"module '{module}' defines several tasks ({', '.join(names)})",
                               hint=f"name one, e.g. {module}:{names[0]}")
        if not tasks:
            return  # tasks made dynamically: the container decides
        name = next(iter(tasks))
    elif name not in tasks:
        return
    stand_in = _stand_in(tasks[name])
    if stand_in is not None:
        from cowait.runtime.types import decode

        bind_inputs(stand_in, decode(inputs), ref)
