"""Build a project's task image: custom Dockerfile first (if any), then Dockerfile.task on top."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version as dist_version
from pathlib import Path
from typing import Callable

from cowait.build.ca_bundle import find_ca_bundle
from cowait.build.context import BuildContext, project_files
from cowait.build.features import NOTEBOOK_LABEL
from cowait.config import Project
from cowait.errors import BuildError, ConfigError
from cowait.resources import data_path
from cowait.runtime.taskdef import task_workdir

# Progress callback: (kind, text) with kind one of "step", "output", "info", "warning".
Progress = Callable[[str, str], None]

# What the runtime needs inside every task container, pinned to the versions on this host.
RUNTIME_PACKAGES = ("docker",)
# What notebooks need (kernel, headless execution, Jupyter Lab); pinned when installed here.
NOTEBOOK_PACKAGES = {"ipykernel": ">=6.25", "nbclient": ">=0.9", "nbformat": ">=5.9", "jupyterlab": ">=4"}
# What tasks need to start subtasks on a cluster: the client, and jinja2 for the pod templates. Every
# project can run on a cluster (the built-in 'kubernetes' one needs no configuration), so every
# image has them; the runtime imports them only on a cluster.
KUBERNETES_PACKAGES = {"kubernetes": ">=28", "jinja2": ">=3.1"}
# What `cowait test` needs in the image, when the project has tests.
TEST_PACKAGES = {"pytest": ">=8"}
LABEL_PREFIX = "cowait"
RUNTIME_LABEL = "cowait.runtime"  # content hash of the cowait runtime inside the image


@dataclass
class BuildOptions:
    """Options of one ``cowait build``; None means "as cowait.yml says"."""

    image: str | None = None
    tag: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    dockerfile: str | None = None
    no_cache: bool = False


@dataclass
class BuiltImage:
    """The result of a build: the image and every tag it got."""

    repository: str
    image_id: str
    content_tag: str
    tags: list[str]
    seconds: float
    cached: bool = False

    @property
    def ref(self) -> str:
        """The immutable reference ``repository:content-tag``."""
        return f"{self.repository}:{self.content_tag}"


def runtime_requirements(notebooks: bool = False, tests: bool = False) -> str:
    """Requirements of the cowait runtime on every engine (and of notebooks and tests), pinned to
    this host's versions."""
    wanted = {name: "" for name in RUNTIME_PACKAGES}
    wanted.update(KUBERNETES_PACKAGES)
    if notebooks:
        wanted.update(NOTEBOOK_PACKAGES)
    if tests:
        wanted.update(TEST_PACKAGES)
    lines = []
    for name, fallback in wanted.items():
        try:
            lines.append(f"{name}=={dist_version(name)}")
        except PackageNotFoundError:
            lines.append(f"{name}{fallback}")
    return "\n".join(lines) + "\n"


def has_tests(files: list[str]) -> bool:
    """pytest goes in when the project has test files."""
    names = [f.rsplit("/", 1)[-1] for f in files]
    return any(n.endswith(".py") and (n.startswith("test_") or n.endswith("_test.py") or n == "conftest.py")
               for n in names)


def has_notebooks(project: Project) -> bool:
    """Notebook support goes in unless ``features: {notebook: false}`` opts out: a project with no
    notebooks yet can still open Jupyter on the image it built (and pushed)."""
    return project.settings.features.notebook


def split_image(image: str) -> tuple[str, str | None]:
    """Split ``repo[:tag]`` (a registry port is not a tag)."""
    name, _, tag = image.rpartition(":")
    if name and "/" not in tag:
        return name, tag
    return image, None


def build_image(project: Project, options: BuildOptions, progress: Progress) -> BuiltImage:
    """Build the task image of ``project``; raise BuildError with the cause and the fix."""
    from cowait.build.wheel import runtime_wheel
    from cowait.engine.docker.client import docker_client

    started = time.monotonic()
    client = docker_client()
    settings = project.settings
    repository, explicit_tag = split_image(options.image or project.image)
    build_args = {**settings.build_args, **options.build_args}

    base = settings.base
    custom = _custom_dockerfile(project, options)
    if custom is not None:
        if "base" in settings.model_fields_set:
            progress("warning", f"'base: {settings.base}' is ignored: {custom.name} is built first and used as the base")
        base = _build_custom(client, custom, build_args, options.no_cache, progress)
    else:
        _ensure_base(client, base, progress)
    base_id = client.images.get(base).id

    context = BuildContext(project.root, project_files(project.root, settings.ignore))
    notebooks = has_notebooks(project)
    if not notebooks and any(f.endswith(".ipynb") for f in context.project_files):
        progress("warning", "the project has notebooks, but 'features: {notebook: false}' leaves Jupyter out of "
                            "the image: 'cowait notebook' and NotebookRunner will not work with it")
    dockerfile_text = data_path("Dockerfile.task").read_text()
    context.add("Dockerfile", dockerfile_text.encode())
    context.add("runtime-requirements.txt", runtime_requirements(notebooks, has_tests(context.project_files)).encode())
    wheel = runtime_wheel()
    context.add(f"wheels/{wheel.name}", wheel.read_bytes())
    context.add("requirements.txt", _requirements(project))
    ca_bundle = find_ca_bundle(settings.build.ca_bundle, project.root)
    context.add("ca-bundle.pem", ca_bundle.read_bytes() if ca_bundle else b"")
    if ca_bundle:
        progress("info", f"trusting CA bundle {ca_bundle} during the build")

    workdir = task_workdir(settings.workdir)
    args = {**build_args, "BASE": base_id, "WORKDIR": workdir, "FILESHARE": "1" if notebooks else "0"}
    content = context.content_hash(repr(sorted(args.items())), repr(options.no_cache))[:12]
    tags = [f"{repository}:latest", f"{repository}:{content}"]
    if explicit_tag or options.tag:
        tags.append(f"{repository}:{options.tag or explicit_tag}")

    if not options.no_cache:
        existing = _find_image(client, f"{repository}:{content}")
        if existing is not None:
            for ref in tags:
                existing.tag(*split_image(ref))
            progress("info", f"image {repository}:{content} is up to date")
            return BuiltImage(repository, existing.id, content, tags, time.monotonic() - started, cached=True)

    from cowait.version import __version__

    labels = {
        f"{LABEL_PREFIX}.version": __version__,
        RUNTIME_LABEL: wheel.parent.name,
        f"{LABEL_PREFIX}.content": content,
        f"{LABEL_PREFIX}.project": project.root.name,
        NOTEBOOK_LABEL: str(notebooks).lower(),
    }
    image_id = _run_build(client, context, args, labels, options.no_cache, progress)
    image = client.images.get(image_id)
    for ref in tags:
        image.tag(*split_image(ref))
    return BuiltImage(repository, image_id, content, tags, time.monotonic() - started)


def _custom_dockerfile(project: Project, options: BuildOptions) -> Path | None:
    name = options.dockerfile or project.settings.dockerfile
    if name:
        path = (project.root / name).resolve()
        if not path.is_file():
            source = "--dockerfile" if options.dockerfile else "cowait.yml: dockerfile"
            raise ConfigError(f"{source}: file not found: {path}", hint="fix the path, relative to the project root")
        return path
    default = project.root / "Dockerfile"
    return default if default.is_file() else None


def _requirements(project: Project) -> bytes:
    path = project.workdir / project.settings.requirements
    if path.is_file():
        return path.read_bytes()
    if "requirements" in project.settings.model_fields_set:
        raise ConfigError(f"cowait.yml: requirements: file not found: {path}", hint="create it or fix the path")
    return b""


def _find_image(client, ref: str):
    from docker.errors import ImageNotFound

    try:
        return client.images.get(ref)
    except ImageNotFound:
        return None


def _ensure_base(client, base: str, progress: Progress) -> None:
    """Make sure the base image is present, pulling it once if needed."""
    from docker.errors import APIError

    if _find_image(client, base) is not None:
        return
    progress("step", f"pulling base image {base}")
    try:
        repo, tag = split_image(base)
        client.images.pull(repo, tag=tag or "latest")
    except APIError as exc:
        reason = (exc.explanation or str(exc)).splitlines()[0]
        raise BuildError(
            f"base image '{base}' is not available locally and could not be pulled: {reason}",
            hint=f"run 'docker pull {base}', or set 'base:' in cowait.yml to an image you have",
        ) from exc


def _build_custom(client, dockerfile: Path, build_args: dict[str, str], no_cache: bool, progress: Progress) -> str:
    """Build a user's Dockerfile (context: its folder); return the image id."""
    progress("info", f"building {dockerfile.name} first; the task image builds on top of it")
    stream = client.api.build(
        path=str(dockerfile.parent), dockerfile=dockerfile.name, buildargs=build_args,
        nocache=no_cache, rm=True, forcerm=True, decode=True,
    )
    return _follow(stream, progress, source=dockerfile.name)


def _run_build(client, context: BuildContext, args: dict[str, str], labels: dict[str, str],
               no_cache: bool, progress: Progress) -> str:
    stream = client.api.build(
        fileobj=context.tar(), custom_context=True, dockerfile="cowait/Dockerfile",
        buildargs=args, labels=labels, nocache=no_cache, rm=True, forcerm=True, decode=True,
    )
    return _follow(stream, progress, source="Dockerfile.task")


_WARNING = "cowait: WARNING:"  # what Dockerfile.task prints for a step it could only partly do
_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_PIP_MISSING = re.compile(r"(?:No matching distribution found for|Could not find a version that satisfies the requirement) (\S+)")


def _follow(stream, progress: Progress, source: str) -> str:
    """Follow a build stream; return the image id or raise BuildError naming the failing step."""
    image_id = None
    step = ""
    recent: list[str] = []
    for chunk in stream:
        if "stream" in chunk:
            for line in chunk["stream"].splitlines():
                match = _STEP.match(line)
                if match:
                    step = line
                    recent = []
                    progress("step", line)
                elif line.startswith(_WARNING):
                    progress("warning", line[len(_WARNING):].strip())
                elif line.strip():
                    recent.append(line)
                    del recent[:-40]
                    progress("output", line)
        elif "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        elif "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail", {}).get("message") or chunk.get("error", "")
            raise _build_error(detail, step, recent, source)
    if image_id is None:
        raise BuildError(f"{source}: the build ended without an image", hint="run again with --debug")
    return image_id


def _build_error(detail: str, step: str, recent: list[str], source: str) -> BuildError:
    text = "\n".join(recent)
    missing = _PIP_MISSING.search(text)
    if missing:
        return BuildError(f"pip could not install '{missing.group(1)}': no matching distribution",
                          hint="check that name and version in your requirements file")
    errors = [line.strip() for line in recent if line.strip().startswith("ERROR:")]
    where = f" at '{step}'" if step else ""
    if errors:
        return BuildError(f"{source}: build failed{where}: {errors[-1]}")
    last = recent[-1].strip() if recent else detail.strip()
    return BuildError(f"{source}: build failed{where}: {last}", hint=detail.strip().splitlines()[0] if detail else None)
