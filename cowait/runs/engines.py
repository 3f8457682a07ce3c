"""The engine behind a cluster name, for every command that runs or finds runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cowait.config import Project

if TYPE_CHECKING:
    from cowait.engine.interface import TaskEngine


def cluster_engine(project: Project, cluster: str | None) -> "tuple[str, TaskEngine]":
    """(cluster name, engine) of ``cluster`` (default: the project's default cluster)."""
    from cowait.engine.registry import engine_for_cluster

    name, config = project.cluster(cluster)
    return name, engine_for_cluster(config)
