"""The engine behind a cluster name: what ps, logs, kill and rm talk to."""

from __future__ import annotations

from typing import Any

from cowait.config import Project
from cowait.errors import UsageError


def cluster_engine(project: Project, cluster: str | None) -> tuple[str, Any]:
    """(cluster name, engine) of ``cluster`` (default: the project's default cluster)."""
    from cowait.engine.registry import get_engine

    name, config = project.cluster(cluster)
    if config.type == "docker":
        return name, get_engine("docker")
    if config.type == "kubernetes":
        from cowait.runs.kubernetes_run import kubernetes_options

        return name, get_engine("kubernetes", kubernetes_options(config, {}))
    raise UsageError(f"cluster '{name}' is of type {config.type}, which this version does not run",
                     hint="use a docker or kubernetes cluster")
