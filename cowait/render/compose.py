"""A local run as a Compose project (``cowait render compose``; the root of every local run)."""

from __future__ import annotations

from cowait.engine import labels as L
from cowait.render.templates import render
from cowait.runtime.taskdef import TASK_FILE_PATH, TaskDefinition


def render_compose(root: TaskDefinition) -> str:
    """The Compose file that starts ``root`` on its run's network; valid for plain ``docker compose``."""
    from cowait.engine.docker.tasks import RUNTIME_COMMAND, DockerTaskEngine
    from cowait.version import __version__

    settings = DockerTaskEngine().settings(root)
    options = root.engine_options
    return render(
        "compose", "run.yml.j2",
        version=__version__,
        run_id=root.run,
        project=options["compose_project"],
        service=root.id,
        task=root,
        command=RUNTIME_COMMAND,
        labels={k: v for k, v in settings.labels.items() if not k.startswith("com.docker.compose.")},
        environment=settings.env,
        volumes=settings.mounts,
        cpus=(settings.nano_cpus / 1e9) if settings.nano_cpus else None,
        cpu_shares=settings.cpu_shares,
        mem_limit=settings.mem_limit,
        mem_reservation=settings.mem_reservation,
        network=options["network"],
        ports=options.get("ports", []),
        extra_hosts=settings.extra_hosts,
        run_label=L.RUN,
        task_file=TASK_FILE_PATH if settings.definition_file else None,
        task_json=settings.definition_file or "",
    )
