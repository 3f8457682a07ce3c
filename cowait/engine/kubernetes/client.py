"""Connect to a cluster: in-cluster service account inside a pod, else a kubeconfig and context."""

from __future__ import annotations

import os
from typing import Any

from cowait.errors import EngineUnavailable

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def in_cluster() -> bool:
    """True inside a pod with a service account token (tasks spawning subtasks)."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.isfile(f"{SERVICE_ACCOUNT_DIR}/token")


def api_client(context: str | None = None, config_file: str | None = None) -> Any:
    """An ApiClient with a connection pool large enough for a fan-out."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    try:
        if in_cluster():
            config.load_incluster_config(client_configuration=configuration)
        else:
            config.load_kube_config(config_file=os.path.expanduser(config_file) if config_file else None,
                                    context=context, client_configuration=configuration)
    except (ConfigException, FileNotFoundError, OSError) as exc:
        where = config_file or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise EngineUnavailable(f"cannot load the Kubernetes config {where}" + (f" (context {context})" if context else "")
                          + f": {exc}", hint="set KUBECONFIG, or kube_config_file/context of the cluster") from exc
    configuration.connection_pool_maxsize = 64
    return client.ApiClient(configuration)


def current_namespace(default: str = "default") -> str:
    """The pod's own namespace inside a cluster; ``default`` elsewhere."""
    try:
        with open(f"{SERVICE_ACCOUNT_DIR}/namespace") as handle:
            return handle.read().strip() or default
    except OSError:
        return default
