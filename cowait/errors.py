"""The one error hierarchy: each error is a message a person can act on, plus an exit code."""

from __future__ import annotations


class CowaitError(Exception):
    """Base of every error cowait reports to a user (one line, no traceback unless --debug)."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(CowaitError):
    """The command line was wrong."""

    exit_code = 2


class ConfigError(CowaitError):
    """cowait.yml (or the user-level config) is invalid; the message names file, line and key."""

    exit_code = 2


class EngineError(CowaitError):
    """The container engine failed; the kinds below say why, so callers can tell them apart."""


class EngineUnavailable(EngineError):
    """The engine cannot be reached (Docker is down, the cluster does not answer, no kubeconfig)."""


class DockerNotRunning(EngineUnavailable):
    """No Docker engine answers."""


class EngineForbidden(EngineError):
    """The engine refused the caller: credentials, RBAC or an admission policy."""


class ImageNotAvailable(EngineError):
    """The image a run needs is not where the engine takes it from (not built, not pushed)."""


class TaskStartFailed(EngineError):
    """A task's container or pod could not be created or could not start (bad image, no resources)."""


class TaskGone(EngineError):
    """The task's container or pod no longer exists (deleted, collected)."""


class BuildError(CowaitError):
    """An image build failed."""


class PushError(CowaitError):
    """An image push failed."""


class TaskError(CowaitError):
    """A task failed: raised in the parent that awaits it, and by the CLI for the root.

    Carries the failed task's id, the type and message of its exception, and its traceback text.
    """

    def __init__(self, task_id: str, error_type: str, message: str, traceback: str = "") -> None:
        super().__init__(f"task {task_id} failed: {error_type}: {message}" if error_type else f"task {task_id} failed: {message}")
        self.task_id = task_id
        self.error_type = error_type
        self.error_message = message
        self.traceback = traceback

    def to_dict(self) -> dict[str, str]:
        return {"task": self.task_id, "type": self.error_type, "message": self.error_message,
                "traceback": self.traceback}


class TaskInputError(CowaitError, TypeError):
    """A task was given a missing, unknown or unconvertible input (or a positional one)."""

    exit_code = 2


class TaskNotFound(CowaitError):
    """A task reference names no importable task."""

    exit_code = 2
