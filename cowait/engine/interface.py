"""The one interface every engine implements (Docker, Kubernetes, or a third one registered under
the ``cowait.engines`` entry point): what the runtime, runs and the CLI call, and nothing else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Protocol, runtime_checkable

if TYPE_CHECKING:
    from cowait.engine.info import TaskInfo
    from cowait.runtime.taskdef import TaskDefinition


@runtime_checkable
class TaskEngine(Protocol):
    """Tasks as containers (or pods) of one engine; each method raises ``EngineError`` with the
    cause and the fix when the engine refuses."""

    name: str

    def start(self, taskdef: "TaskDefinition") -> None:
        """Start the task's container (a subtask is owned by, and removed with, its parent)."""

    def start_image(self, taskdef: "TaskDefinition", command: list[str] | str | None, env: dict[str, str]) -> None:
        """Start a container of any image (not a cowait task) as a subtask: ``command`` as its
        arguments, only ``env`` in its environment."""

    def ensure_image(self, image: str) -> None:
        """Make ``image`` available to the engine, if it needs that before a start."""

    def follow(self, task_id: str) -> Iterator[str]:
        """The task's output lines from its start until it stops (events and log text)."""

    def read(self, task_id: str) -> Iterator[str]:
        """The task's output lines so far, without waiting."""

    def wait(self, task_id: str) -> tuple[int, str]:
        """(exit code, the reason in words) once the task has stopped."""

    def list(self, all: bool = True, run: str | None = None) -> "list[TaskInfo]":
        """The engine's cowait tasks (of one run), from labels and states alone."""

    def kill(self, task_ids: list[str]) -> None:
        """Stop and remove tasks with their subtrees."""

    def remove(self, task_id: str, subtree: bool = True) -> None:
        """Remove an ended task (and its subtree unless it removed that itself)."""

    def remove_run(self, run_id: str) -> None:
        """Remove everything of a run: its tasks and whatever the engine made for it."""
