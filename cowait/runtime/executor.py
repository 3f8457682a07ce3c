"""Run one task in this process: lifecycle hooks, typed inputs and output, subtask cleanup."""

from __future__ import annotations

from typing import Any

from cowait.errors import TaskError
from cowait.runtime import events
from cowait.runtime.node import Node
from cowait.runtime.task import Task, TaskExit, maybe_await, run_function_of
from cowait.runtime.types import bind_inputs, check_output


async def execute(node: Node, cls: type[Task]) -> Any:
    """Run ``cls`` with the node's inputs; return the wire-encoded result."""
    instance = cls._instantiate(node.taskdef)
    inputs = await maybe_await(instance.before(dict(node.inputs)))
    if not isinstance(inputs, dict):
        raise TypeError(f"{cls.__qualname__}.before() must return the inputs dict, got {type(inputs).__name__}")
    function = run_function_of(cls)
    bound = bind_inputs(function, inputs, node.taskdef.name)
    node.inputs = inputs
    events.emit({"type": "status", "id": node.taskdef.id, "status": "work"})
    try:
        result = await maybe_await(instance.run(**bound))
    except TaskExit as stop:
        result = stop.result
    await maybe_await(instance.after(inputs))
    failures = await node.finish_children()
    if failures:
        first = failures[0]
        raise TaskError(first.task_id, first.error_type,
                        f"{first.error_message} (this subtask was never awaited)", first.traceback)
    return check_output(result, function, node.taskdef.name)
