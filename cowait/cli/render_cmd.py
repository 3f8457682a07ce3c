"""``cowait render compose|k8s``: print the files a run would apply, for review or GitOps."""

from __future__ import annotations

import click

from cowait.cli.run_cmd import RunFlags, run_options


@click.group()
def render() -> None:
    """Print what a run would start, without starting it."""


@render.command()
@click.argument("task", required=False)
@run_options
def compose(task: str | None, flags: RunFlags) -> None:
    """The Compose project of a local run of TASK; `docker compose -f - up` runs it."""
    from cowait.cli.output import result, warning
    from cowait.cli.project import open_project
    from cowait.errors import CowaitError, UsageError
    from cowait.engine.registry import get_engine
    from cowait.render.compose import render_compose
    from cowait.runs.plan import check_task_ref, plan_run

    if not task:
        raise UsageError("name the task to render, e.g. 'cowait render compose hello'")
    project = open_project()
    check_task_ref(project, task)
    options = flags.options(task)
    image = flags.image
    engine = get_engine("docker")  # a Compose project is what the local engine runs
    warnings: list[str] = []
    try:
        ref = engine.run_image(project, image, [])
    except CowaitError:
        ref = image or f"{project.image}:latest"
        warning(f"image {ref} is not built yet: build it before running this file")
    root = plan_run(project, options, engine, ref, warnings)
    for message in warnings:
        warning(message)
    result(render_compose(root).rstrip())


def _add_k8s() -> None:
    from cowait.cli.render_k8s import k8s

    render.add_command(k8s)


_add_k8s()
