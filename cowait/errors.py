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
    """The container engine failed or cannot be reached."""


class DockerNotRunning(EngineError):
    """No Docker engine answers."""


class BuildError(CowaitError):
    """An image build failed."""


class PushError(CowaitError):
    """An image push failed."""
