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


def build_project(project: Project, quiet: bool = False) -> str:
    """Build the project's image if it changed (with progress, one line in logs); its reference."""
    import sys

    from cowait.build.builder import BuildOptions, build_image
    from cowait.cli.output import info
    from cowait.cli.progress import BuildView

    with BuildView(quiet=quiet or not sys.stderr.isatty()) as view:
        built = build_image(project, BuildOptions(), view)
        view.finish()
    if not quiet:
        info(f"image {built.ref} {'is up to date' if built.cached else 'built'}")
    return built.ref
