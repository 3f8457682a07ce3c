"""The current task of this process (one per task container, or a kernel, or a test session)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cowait.errors import CowaitError

if TYPE_CHECKING:
    from cowait.runtime.node import Node

_node: "Node | None" = None


def current_node() -> "Node | None":
    """The node of the task running in this process, if any."""
    return _node


def set_node(node: "Node | None") -> None:
    global _node
    _node = node


def require_node(action: str) -> "Node":
    """The current node, or a clear error when no task runs in this process."""
    if _node is None:
        raise CowaitError(
            f"cannot {action}: no task is running in this process",
            hint="tasks start subtasks from inside a task; run one with 'cowait run'",
        )
    return _node
