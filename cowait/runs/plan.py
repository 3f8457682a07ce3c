"""Plan a run: the root task's definition from cowait.yml, .env and the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cowait.config import Project
from cowait.config.schema import EnvSource
from cowait.engine import labels as L
from cowait.errors import ConfigError, CowaitError, TaskNotFound, UsageError
from cowait.runtime.taskdef import PROJECT_MOUNT, TaskDefinition, new_task_id, task_workdir
from cowait.runtime.types import encode

@dataclass
class RunOptions:
    """What the command line says about one run."""

    task: str
    inputs: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    cluster: str | None = None
    image: str | None = None
    cpu: str | None = None
    cpu_limit: str | None = None
    memory: str | None = None
    memory_limit: str | None = None
    mount: bool = True

    def __post_init__(self) -> None:
        from cowait.quantity import QuantityError, cpu_cores, memory_bytes

        for flag, value, check in (("--cpu", self.cpu, cpu_cores), ("--cpu-limit", self.cpu_limit, cpu_cores),
                                   ("--memory", self.memory, memory_bytes),
                                   ("--memory-limit", self.memory_limit, memory_bytes)):
            if value is not None:
                try:
                    check(value)
                except QuantityError as exc:
                    raise UsageError(f"{flag}: {exc}") from None


def resources(options: RunOptions, cluster: Any, settings: Any) -> dict[str, str | None]:
    """CPU and memory of a run's root: the command line's, over the cluster's, over cowait.yml's."""
    return {key: getattr(options, key) or getattr(cluster, key, None) or getattr(settings, key)
            for key in ("cpu", "cpu_limit", "memory", "memory_limit")}


def check_task_ref(project: Project, ref: str, inputs: dict[str, Any] | None = None) -> None:
    """Fail early, with the fix, when a task module is not in the project, the task is ambiguous,
    or its inputs are missing or of the wrong type."""
    from cowait.runs.signature import check_task_inputs

    module = ref.partition(":")[0]
    if not module or module.startswith("cowait."):
        return
    relative = Path(*module.split("."))
    for folder in (project.workdir, project.root):
        for candidate in (folder / relative.with_suffix(".py"), folder / relative / "__init__.py"):
            if candidate.is_file():
                check_task_inputs(candidate, ref, encode(inputs or {}))
                return
    raise TaskNotFound(f"task '{ref}': no {relative.with_suffix('.py')} in {project.workdir}",
                       hint="name a module of the project, e.g. 'cowait run hello' for hello.py")


def split_environment(project: Project, cli_env: dict[str, str]) -> tuple[dict[str, str], dict[str, EnvSource]]:
    """(values, references): cowait.yml's values, then .env in the workdir, then ``-e`` (the command
    line wins); and the secret or config map references of cowait.yml that none of those overrides."""
    values: dict[str, str] = {}
    references: dict[str, EnvSource] = {}
    for key, value in project.settings.environment.items():
        if isinstance(value, EnvSource):
            references[key] = value
        else:
            values[key] = value
    dotenv = project.workdir / ".env"
    if dotenv.is_file():
        from dotenv import dotenv_values

        values.update({k: v or "" for k, v in dotenv_values(dotenv).items()})
    values.update(cli_env)
    return values, {k: v for k, v in references.items() if k not in values}


def resolve_environment(project: Project, cli_env: dict[str, str], warnings: list[str]) -> dict[str, str]:
    """The environment of a local run: with no secret store on Docker, a reference takes the
    caller's variable of that name, or its fallback."""
    values, references = split_environment(project, cli_env)
    env: dict[str, str] = {}
    for key, value in references.items():
        if key in os.environ:
            env[key] = os.environ[key]
        elif value.fallback is not None:
            env[key] = value.fallback
        else:
            warnings.append(f"environment.{key} comes from a Kubernetes {value.source}; "
                            f"on Docker set {key} in your shell or give it a 'fallback'")
            env[key] = ""
    return {**env, **values}


def root_definition(project: Project, options: RunOptions, *, run_id: str, image: str, engine: str,
                    env: dict[str, str], volumes: list[dict[str, Any]], engine_options: dict[str, Any]) -> TaskDefinition:
    """The root task of a run on any engine: the rules of workdir, inputs and resources in one place."""
    _, cluster = project.cluster(options.cluster)
    return TaskDefinition(
        id=run_id, name=options.task, run=run_id, image=image, parent=None, inputs=encode(options.inputs), env=env,
        volumes=volumes, engine=engine, engine_options=engine_options, project_dir=str(project.root),
        workdir=task_workdir(project.settings.workdir), **resources(options, cluster, project.settings),
    )


def docker_volumes(project: Project, warnings: list[str]) -> list[dict[str, Any]]:
    """``volumes:`` of cowait.yml as Docker mount specs (bind and tmpfs)."""
    mounts = []
    for target, spec in project.settings.volumes.items():
        if isinstance(spec, str):
            spec = {"bind": spec}
        if not isinstance(spec, dict):
            raise ConfigError(f"cowait.yml: volumes.{target}: expected a path or a mapping")
        if "bind" in spec:
            bind = spec["bind"]
            source = bind if isinstance(bind, str) else bind.get("src")
            mode = "rw" if isinstance(bind, str) else bind.get("mode", "rw")
            if not source:
                raise ConfigError(f"cowait.yml: volumes.{target}.bind: needs a source path")
            path = (project.root / os.path.expanduser(source)).resolve()
            mounts.append({"type": "bind", "source": str(path), "target": target, "read_only": mode == "ro"})
        elif "tmpfs" in spec:
            size = (spec["tmpfs"] or {}).get("size")
            mounts.append({"type": "tmpfs", "target": target, "size": _size_bytes(size) if size else None})
        else:
            warnings.append(f"volumes.{target}: {', '.join(spec)} volumes exist on Kubernetes only; ignored on Docker")
    return mounts


def _size_bytes(size: Any) -> int:
    """A tmpfs size: a quantity (64Mi), or Docker's spelling (64m), which exists only on Docker."""
    from cowait.quantity import DOCKER_UNITS, QuantityError, memory_bytes

    try:
        return memory_bytes(size)
    except QuantityError:
        text = str(size).strip()
        for unit in sorted(DOCKER_UNITS, key=len, reverse=True):
            number = text[: -len(unit)]
            if text.endswith(unit) and number.replace(".", "", 1).isdigit():
                return memory_bytes(number + DOCKER_UNITS[unit]) if DOCKER_UNITS[unit] else int(number)
        raise ConfigError(f"cowait.yml: volumes: tmpfs size '{text}' is not a size", hint="write e.g. 64Mi") from None


def docker_socket() -> str:
    """Host path of the Docker socket, to mount into task containers."""
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://"):]
    if host:
        raise CowaitError(f"DOCKER_HOST={host}: tasks need the engine's unix socket to start subtasks",
                          hint="use a local engine (unix socket)")
    return "/var/run/docker.sock"


def resolve_image(project: Project, image: str | None, warnings: list[str] | None = None) -> str:
    """An immutable reference to the project's image (its content tag), or a clear error.

    Warns when the image's cowait runtime is not the one running here (rebuild needed).
    """
    from docker.errors import ImageNotFound

    from cowait.build.builder import split_image
    from cowait.engine.docker.client import docker_client

    repository, tag = split_image(image or project.image)
    ref = f"{repository}:{tag or 'latest'}"
    try:
        found = docker_client().images.get(ref)
    except ImageNotFound:
        raise CowaitError(f"image {ref} not found", hint="build it with 'cowait build', or add --build") from None
    labels = found.labels or {}
    if warnings is not None and image is None and "cowait.runtime" in labels:
        from cowait.build.wheel import runtime_key

        if labels["cowait.runtime"] != runtime_key():
            warnings.append(f"{ref} was built with another version of cowait; run 'cowait build' to update it")
    content = labels.get("cowait.content")
    if content and f"{repository}:{content}" in found.tags:
        return f"{repository}:{content}"
    return ref


def plan_docker_run(project: Project, options: RunOptions, image: str, warnings: list[str]) -> TaskDefinition:
    """The root task definition of a local run."""
    _, cluster = project.cluster(options.cluster)
    run_id = new_task_id(options.task)
    volumes = []
    if options.mount:
        volumes.append({"type": "bind", "source": str(project.root), "target": PROJECT_MOUNT})
    volumes.extend(docker_volumes(project, warnings))
    return root_definition(
        project, options, run_id=run_id, image=image, engine="docker",
        env=resolve_environment(project, options.env, warnings), volumes=volumes,
        engine_options={
            "network": f"cowait-{run_id}",
            "socket": docker_socket(),
            "compose_project": L.compose_project_name(run_id),
            "shared_network": not getattr(cluster, "network_per_task", False),
        },
    )
