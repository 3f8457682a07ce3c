"""The state of a run's task tree, rebuilt from its events (live or recorded)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from cowait.runtime import events as ev


@dataclass
class TaskState:
    id: str
    name: str = ""
    parent: str | None = None
    status: str = "wait"
    started: float = field(default_factory=time.time)
    ended: float | None = None
    result: Any = None
    error: dict[str, Any] | None = None

    @property
    def duration(self) -> float:
        return (self.ended or time.time()) - self.started


def normalize(root_id: str, line: str) -> list[dict[str, Any]]:
    """One line of the root's stream as events: its own text becomes a ``log`` event of the root."""
    text, event = ev.parse_line(line)
    found = []
    if text is not None:
        found.append({"type": "log", "id": root_id, "line": text, "ts": time.time()})
    if event is not None:
        found.append(event)
    return found


def replay(root_id: str, lines: Iterable[str]) -> "RunState":
    """The tree as the lines of a root's stream tell it (what ``ps`` reads of a live run)."""
    state = RunState(root_id)
    for line in lines:
        for event in normalize(root_id, line):
            state.apply(event)
    return state


class RunState:
    """Tasks by id, in start order, with the root's outcome."""

    def __init__(self, root_id: str) -> None:
        self.root_id = root_id
        self.tasks: dict[str, TaskState] = {}
        self._children: dict[str | None, list[str]] = {}

    def task(self, task_id: str) -> TaskState:
        if task_id not in self.tasks:
            self.tasks[task_id] = TaskState(task_id)
        return self.tasks[task_id]

    def apply(self, event: dict[str, Any]) -> TaskState | None:
        """Update the tree with one event; return the task it concerns."""
        task_id = event.get("id")
        if not task_id:
            return None
        state = self.task(task_id)
        kind = event.get("type")
        ts = event.get("ts") or time.time()
        if kind == "init":
            state.name = event.get("name", state.name)
            if state.parent is None and event.get("parent"):
                self._children.setdefault(event["parent"], []).append(task_id)
            state.parent = event.get("parent") or state.parent
            state.started = ts
        elif kind == "status":
            state.status = event.get("status", state.status)
            if state.status in ("done", "fail", "stop"):
                state.ended = state.ended or ts
        elif kind == "return":
            state.result = event.get("result")
            state.status = "done"
            state.ended = state.ended or ts
        elif kind == "fail":
            state.error = event.get("error") or {}
            state.status = "fail"
            state.ended = state.ended or ts
        return state

    @property
    def root(self) -> TaskState:
        return self.task(self.root_id)

    def children_of(self, task_id: str | None) -> list[TaskState]:
        """The subtasks of ``task_id``, in the order they were made."""
        return [self.tasks[child] for child in self._children.get(task_id, []) if child != task_id]
