"""The task definition: everything a container needs to run one task, as plain JSON."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

TASK_ENV = "COWAIT_TASK"
TASK_FILE_ENV = "COWAIT_TASK_FILE"
TASK_FILE_PATH = "/cowait/task.json"
# Definitions larger than this travel as a file, not in the environment (Linux caps one
# variable at 128 KiB), so inputs of any size work.
ENV_LIMIT = 64 * 1024


# Where the project's files are in every task container: the image's copy, or the caller's folder
# mounted (or streamed) over it.
PROJECT_MOUNT = "/var/task"


def task_workdir(workdir: str) -> str:
    """The task's working directory for cowait.yml's ``workdir:`` (a folder of the project)."""
    return PROJECT_MOUNT if workdir in (".", "") else f"{PROJECT_MOUNT}/{workdir.strip('/')}"


@dataclass
class TaskDefinition:
    """One task: which code, with which inputs, in which image, where in the tree."""

    id: str
    name: str
    run: str
    image: str
    parent: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)  # wire-encoded (cowait.runtime.types)
    env: dict[str, str] = field(default_factory=dict)
    volumes: list[dict[str, Any]] = field(default_factory=list)  # engine mount specs, host paths
    engine: str = "docker"
    engine_options: dict[str, Any] = field(default_factory=dict)  # e.g. docker: network, socket
    project_dir: str | None = None
    workdir: str = PROJECT_MOUNT
    cpu: str | None = None
    cpu_limit: str | None = None
    memory: str | None = None
    memory_limit: str | None = None
    parallelism: int | None = None  # slots this task and its subtree may use at once (None: no bound)
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    def init_event(self, inputs: Any, **extra: Any) -> dict[str, Any]:
        """The ``init`` event of this task: who it is, its inputs (a preview) and the resources asked for."""
        resources = {name: value for name in ("cpu", "cpu_limit", "memory", "memory_limit")
                     if (value := getattr(self, name)) is not None}
        event = {"type": "init", "id": self.id, "name": self.name, "parent": self.parent, "run": self.run,
                 "image": self.image, "inputs": inputs, **extra}
        return {**event, "resources": resources} if resources else event

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TaskDefinition":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @classmethod
    def from_json(cls, text: str) -> "TaskDefinition":
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_environment(cls) -> "TaskDefinition":
        """The definition of the task this process runs (env var, or file for large ones)."""
        text = os.environ.get(TASK_ENV)
        if text is None:
            path = os.environ.get(TASK_FILE_ENV, TASK_FILE_PATH)
            with open(path) as handle:
                text = handle.read()
        return cls.from_json(text)


def short_name(ref: str) -> str:
    """``pkg.module:Name`` -> ``name``: readable, valid in container names and labels."""
    tail = ref.split(":")[-1].split(".")[-1]
    slug = re.sub(r"[^a-z0-9]+", "-", tail.lower()).strip("-")
    return slug[:40] or "task"


def new_task_id(ref: str) -> str:
    """A unique id: short name plus 8 random hex digits (``os.urandom``, as ``secrets`` uses, without
    the start-up cost of importing ``secrets``)."""
    return f"{short_name(ref)}-{os.urandom(4).hex()}"
