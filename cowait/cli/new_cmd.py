"""``cowait new [NAME]`` (alias ``init``): scaffold a working project."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("name", required=False)
@click.option("--image", help="Image name to write into cowait.yml.")
@click.option("--base", help="Base image to write into cowait.yml.")
def new(name: str | None, image: str | None, base: str | None) -> None:
    """Create a project in NAME (a new folder) or in the current folder.

    Writes cowait.yml, requirements.txt, .dockerignore, an example task, notebook and test.
    Existing files are never overwritten.
    """
    from cowait.cli.output import info, result
    from cowait.scaffold import scaffold

    target = Path.cwd() / name if name and name != Path.cwd().name else Path.cwd()
    outcome = scaffold(target, image=image, base=base)
    for path in outcome.created:
        result(f"created {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    for path in outcome.kept:
        info(f"kept    {path.name} (exists)")
    where = f"cd {name} && " if target != Path.cwd() else ""
    info(f"next: {where}cowait build && cowait run hello")
