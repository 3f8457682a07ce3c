"""Engines by name (``type:`` of a cluster): built-ins, plus third-party ones from entry points."""

from __future__ import annotations

import importlib
from typing import Any

from cowait.errors import ConfigError

BUILTIN = {
    "docker": "cowait.engine.docker.tasks:DockerTaskEngine",
}
ENTRY_POINT_GROUP = "cowait.engines"
_instances: dict[str, Any] = {}


def get_engine(name: str) -> Any:
    """The engine registered as ``name`` (one instance per process)."""
    if name in _instances:
        return _instances[name]
    target = BUILTIN.get(name)
    if target is None:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            raise ConfigError(f"unknown engine '{name}'", hint=f"known engines: {', '.join(sorted(BUILTIN))}")
        target = found[0].value
    module, _, attr = target.partition(":")
    engine = getattr(importlib.import_module(module), attr)()
    _instances[name] = engine
    return engine
