"""Labels on every object cowait creates: what lets the engine alone answer ps, logs and kill."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cowait.runtime.taskdef import TaskDefinition

RUN = "cowait.run"
TASK = "cowait.task"
NAME = "cowait.name"
PARENT = "cowait.parent"
ROOT = "cowait.root"
PROJECT_DIR = "cowait.project_dir"
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_ONEOFF = "com.docker.compose.oneoff"
# Compose manages (and `down --remove-orphans` removes) only containers with a config hash.
COMPOSE_CONFIG_HASH = "com.docker.compose.config-hash"


def task_labels(taskdef: "TaskDefinition") -> dict[str, str]:
    """Labels of one task's container or pod."""
    labels = {
        RUN: taskdef.run,
        TASK: taskdef.id,
        NAME: taskdef.name,
        PARENT: taskdef.parent or "",
        ROOT: "true" if taskdef.parent is None else "false",
    }
    if taskdef.project_dir:
        labels[PROJECT_DIR] = taskdef.project_dir
    return labels


def compose_project_name(run_id: str) -> str:
    """The Compose project of a local run."""
    return f"cowait-{run_id}"
