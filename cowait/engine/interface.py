"""The one interface every engine implements (Docker, Kubernetes, or a third one registered under
the ``cowait.engines`` entry point): what the runtime, runs and the CLI call, and nothing else.

It has two halves. The task half is what a task's runtime uses to start and watch its subtasks
(inside a container or pod). The run half is what the CLI uses on the caller's machine to launch
a run's root, reach a port of it and stream the project folder into it. Every method raises an
``EngineError`` (or one of its kinds in ``cowait.errors``) with the cause and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, runtime_checkable

if TYPE_CHECKING:
    from cowait.config import Project
    from cowait.engine.info import TaskInfo
    from cowait.runtime.taskdef import TaskDefinition


@runtime_checkable
class FileShare(Protocol):
    """The caller's project folder, streamed live into the tasks of one run."""

    description: str

    def prepare(self, root: "TaskDefinition") -> None:
        """Before the root starts: make the root (and so its subtasks) see the shared folder."""

    def attach(self) -> None:
        """Once the root has started: serve it."""

    def close(self) -> None:
        """Stop serving and undo whatever ``prepare`` made."""


@runtime_checkable
class TaskEngine(Protocol):
    """Tasks as containers (or pods) of one engine."""

    name: str
    #: True when the engine is this machine's own: it runs the images built here (the CLI builds
    #: before a notebook or a test) and can bind-mount the caller's folders (a notebook's default
    #: share). False for a cluster: it pulls pushed images, and only the streamed share reaches it.
    local: bool

    # --- the task half ---------------------------------------------------------------------
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

    # --- the run half ----------------------------------------------------------------------
    def run_image(self, project: "Project", image: str | None, warnings: list[str]) -> str:
        """The immutable reference of the image a run of ``project`` uses on this engine (the
        project's own unless ``image``); an ``ImageNotAvailable`` error says how to make it."""

    def root_settings(self, project: "Project", options: Any, run_id: str,
                      warnings: list[str]) -> tuple[dict[str, str], list[dict[str, Any]], dict[str, Any]]:
        """(environment, volumes, engine options) of a run's root on this engine; ``options`` is
        the run's ``RunOptions``."""

    def default_parallelism(self) -> int | None:
        """The bound on a run's running subtasks when nothing sets one (None: no bound)."""

    def launch(self, root: "TaskDefinition", record_dir: Path, command: list[str] | None = None) -> None:
        """Start a run's root from the caller's machine, keeping what was applied (a Compose file,
        a pod manifest) in ``record_dir``; ``command`` replaces the task runtime (a test session)."""

    def publish(self, root: "TaskDefinition", container_port: int, local_port: int | None = None) -> None:
        """Before the launch: have the root's ``container_port`` reachable from this machine."""

    def reach(self, root: "TaskDefinition", container_port: int,
              local_port: int | None = None) -> tuple[str, Callable[[], None]]:
        """Once the root runs: (base URL of its published port on this machine, what closes it)."""

    def file_share(self, project: "Project", root: "TaskDefinition", read_only: bool,
                   warn: Callable[[str], None]) -> FileShare:
        """The streamed file share of ``project``'s folder into the run of ``root``."""

    def setup(self, print_only: bool = False) -> list[str]:
        """Create what tasks on this engine need (``cowait cluster setup``); the lines to show: what
        was applied, or with ``print_only`` what would be."""
