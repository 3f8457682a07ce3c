"""``cowait build`` and ``cowait push``."""

from __future__ import annotations

import click

from cowait.cli.params import KeyValue, pairs_to_dict


@click.command()
@click.option("-p", "--push", "push_after", is_flag=True, help="Push the image after building it.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the image reference.")
@click.option("-i", "--image", help="Image name, instead of 'image:' in cowait.yml.")
@click.option("-t", "--tag", help="An extra tag for the image.")
@click.option("-a", "--arg", "build_args", type=KeyValue(), multiple=True, help="Build argument KEY=VALUE (repeatable).")
@click.option("-d", "--dockerfile", help="A custom Dockerfile to build first; the task image builds on it.")
@click.option("--no-cache", is_flag=True, help="Build every layer again.")
def build(push_after: bool, quiet: bool, image: str | None, tag: str | None,
          build_args: tuple[tuple[str, str], ...], dockerfile: str | None, no_cache: bool) -> None:
    """Build the task image: base, cowait runtime, requirements, project files.

    Tags IMAGE:latest and an immutable content tag; with --push, pushes both and prints the digest.
    """
    from cowait.build.builder import BuildOptions, build_image
    from cowait.cli.output import info, result
    from cowait.cli.progress import BuildView
    from cowait.cli.project import open_project

    project = open_project()
    options = BuildOptions(image=image, tag=tag, build_args=pairs_to_dict(build_args),
                           dockerfile=dockerfile, no_cache=no_cache)
    if push_after:
        from cowait.build.push import check_pushable
        from cowait.build.builder import split_image

        check_pushable(split_image(image or project.image)[0])
    if not quiet:
        info(f"building {image or project.image} from {project.root}")
    with BuildView(quiet) as view:
        built = build_image(project, options, view)
        view.finish()
    if push_after:
        digest = _push(built.tags, quiet)
        result(digest)
        return
    if quiet:
        result(built.ref)
    else:
        state = "up to date" if built.cached else f"built in {built.seconds:.1f}s"
        result(f"{built.ref} ({', '.join(t.rpartition(':')[2] for t in built.tags)}) {state}")


@click.command()
@click.option("-q", "--quiet", is_flag=True, help="Print only the digest.")
@click.option("-i", "--image", help="Image name, instead of 'image:' in cowait.yml.")
def push(quiet: bool, image: str | None) -> None:
    """Push the already built image (IMAGE:latest and its content tag) and print its digest."""
    from docker.errors import ImageNotFound

    from cowait.build.builder import split_image
    from cowait.build.push import check_pushable
    from cowait.cli.output import result
    from cowait.cli.project import open_project
    from cowait.engine.docker.client import docker_client
    from cowait.errors import PushError

    project = open_project()
    repository, tag = split_image(image or project.image)
    check_pushable(repository)
    ref = f"{repository}:{tag or 'latest'}"
    try:
        local = docker_client().images.get(ref)
    except ImageNotFound:
        raise PushError(f"image {ref} does not exist", hint="build it first with 'cowait build'") from None
    refs = [ref] + [t for t in local.tags if t.startswith(repository + ":") and t != ref]
    result(_push(refs, quiet))


def _push(refs: list[str], quiet: bool) -> str:
    from cowait.build.push import push_image
    from cowait.cli.output import info
    from cowait.cli.progress import PushView

    if not quiet:
        info(f"pushing {', '.join(refs)}")
    with PushView(quiet) as view:
        return push_image(refs, view)
