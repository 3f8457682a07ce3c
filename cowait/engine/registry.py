"""Engines by name (``type:`` of a cluster): built-ins, plus third-party ones from entry points."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cowait.errors import ConfigError

if TYPE_CHECKING:
    from cowait.engine.interface import TaskEngine

BUILTIN = {
    "docker": "cowait.engine.docker.tasks:DockerTaskEngine",
    "kubernetes": "cowait.engine.kubernetes.tasks:KubernetesTaskEngine",
}
ENTRY_POINT_GROUP = "cowait.engines"
_instances: dict[str, Any] = {}


def get_engine(name: str, options: dict[str, Any] | None = None) -> "TaskEngine":
    """The engine registered as ``name`` (one instance per process and cluster)."""
    options = options or {}
    key = "/".join(str(options.get(k) or "") for k in ("namespace", "context", "kube_config_file"))
    key = f"{name}/{key}"
    if key in _instances:
        return _instances[key]
    target = BUILTIN.get(name)
    if target is None:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            raise ConfigError(f"unknown engine '{name}'", hint=f"known engines: {', '.join(sorted(BUILTIN))}")
        target = found[0].value
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    engine = cls(options)
    _instances[key] = engine
    return engine
