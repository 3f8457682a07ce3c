"""Engines by name (``type:`` of a cluster): built-ins, plus third-party ones from entry points.

A third engine is a package that declares, in its own metadata::

    [project.entry-points."cowait.engines"]
    myengine = "mypackage.engine:MyEngine"

``MyEngine`` implements ``TaskEngine``, is built from ``from_cluster(config)`` on the caller's
machine (a cluster of ``type: myengine`` in cowait.yml, with its own keys) and from
``MyEngine(engine_options)`` inside tasks. Nothing in the CLI names an engine.
"""

from __future__ import annotations

import importlib
import threading
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
# A fan-out's first spawns ask at once, from their own threads: they must get one instance (one client,
# one own-pod lookup, one watch of the children), not one each.
_instances_lock = threading.Lock()


def installed_engines() -> dict[str, str]:
    """Engine name -> ``module:Class`` of every engine this installation knows."""
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {**found, **BUILTIN}


def engine_class(name: str) -> type:
    """The class of the engine registered as ``name``."""
    # a built-in one is known without reading every installed package's entry points
    target = BUILTIN.get(name) or installed_engines().get(name)
    if target is None:
        if name == "api":
            raise ConfigError("clusters of type 'api' (the original Cowait's agent) are not supported",
                              hint="use a docker or kubernetes cluster")
        raise ConfigError(f"unknown engine '{name}'",
                          hint=f"known engines: {', '.join(sorted(installed_engines()))}; a third engine is "
                               f"installed as a '{ENTRY_POINT_GROUP}' entry point")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def get_engine(name: str, options: dict[str, Any] | None = None) -> "TaskEngine":
    """The engine ``name`` with a task's engine options (one instance per process and cluster)."""
    options = options or {}
    key = "/".join(str(options.get(k) or "") for k in ("namespace", "context", "kube_config_file"))
    key = f"{name}/{key}"
    with _instances_lock:
        if key not in _instances:
            _instances[key] = engine_class(name)(options)
        return _instances[key]


def engine_for_cluster(cluster: Any) -> "TaskEngine":
    """The engine of a cluster of cowait.yml (its ``type:``), built from the cluster's settings."""
    key = f"cluster/{cluster.type}/{cluster.model_dump_json()}"
    with _instances_lock:
        if key not in _instances:
            _instances[key] = engine_class(cluster.type).from_cluster(cluster)
        return _instances[key]
