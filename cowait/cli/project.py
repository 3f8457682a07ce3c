"""Open the project for a command, showing config warnings once."""

from __future__ import annotations

from pathlib import Path

from cowait.cli.output import warning
from cowait.config import Project, load_project


def open_project(start: Path | None = None) -> Project:
    """Load the project around the cwd and print its config warnings on stderr."""
    project = load_project(start)
    for message in project.warnings:
        warning(message)
    return project
