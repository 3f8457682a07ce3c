"""Plan a run: the root task's definition from cowait.yml, .env and the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cowait.config import Project
from cowait.config.schema import EnvSource
from cowait.errors import TaskNotFound, UsageError
from cowait.runtime.taskdef import TaskDefinition, new_task_id, task_workdir
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
    parallelism: int | None = None

    def __post_init__(self) -> None:
        if self.parallelism is not None and self.parallelism < 0:
            raise UsageError(f"--parallelism: {self.parallelism} is negative", hint="give a count, or 0 for no bound")
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


def parallelism(options: RunOptions, cluster: Any, settings: Any, engine_default: int | None) -> int | None:
    """The run's bound on running subtasks: the command line's, over the cluster's, over cowait.yml's,
    over the engine's default; 0 means no bound (None)."""
    for value in (options.parallelism, getattr(cluster, "parallelism", None), settings.parallelism):
        if value is not None:
            return value or None
    return engine_default


def root_definition(project: Project, options: RunOptions, *, run_id: str, image: str, engine: str,
                    env: dict[str, str], volumes: list[dict[str, Any]], engine_options: dict[str, Any],
                    default_parallelism: int | None = None) -> TaskDefinition:
    """The root task of a run on any engine: the rules of workdir, inputs, resources and
    parallelism in one place."""
    _, cluster = project.cluster(options.cluster)
    return TaskDefinition(
        id=run_id, name=options.task, run=run_id, image=image, parent=None, inputs=encode(options.inputs), env=env,
        volumes=volumes, engine=engine, engine_options=engine_options, project_dir=str(project.root),
        workdir=task_workdir(project.settings.workdir), **resources(options, cluster, project.settings),
        parallelism=parallelism(options, cluster, project.settings, default_parallelism),
    )


def plan_run(project: Project, options: RunOptions, engine: Any, image: str, warnings: list[str]) -> TaskDefinition:
    """The root task definition of a run of ``project`` on ``engine`` (its environment, volumes
    and engine options come from the engine; every other rule is the same on each)."""
    run_id = new_task_id(options.task)
    env, volumes, engine_options = engine.root_settings(project, options, run_id, warnings)
    return root_definition(project, options, run_id=run_id, image=image, engine=engine.name, env=env,
                           volumes=volumes, engine_options=engine_options,
                           default_parallelism=engine.default_parallelism())
