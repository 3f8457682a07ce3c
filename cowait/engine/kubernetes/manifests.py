"""Kubernetes manifests of a task, rendered from ``templates/k8s/`` (the engine and ``cowait render
k8s`` use the same templates, so what is printed is what is applied)."""

from __future__ import annotations

from typing import Any

import yaml

from cowait.engine import labels as L
from cowait.render.templates import render
from cowait.runtime.taskdef import TASK_ENV, TaskDefinition

RUNTIME_COMMAND = ["python", "-m", "cowait.runtime"]
DEFAULT_TOPOLOGY_KEY = "kubernetes.io/hostname"


def affinity_spec(value: Any) -> dict[str, Any] | None:
    """``stack``/``spread`` (or dicts of mode/required/label/weight) as a Pod ``affinity``.

    Required rules are plain PodAffinityTerms; preferred ones are WeightedPodAffinityTerms (the
    original mixed them up). A dict with Kubernetes' own keys passes through.
    """
    if not value:
        return None
    if isinstance(value, dict) and set(value) & {"nodeAffinity", "podAffinity", "podAntiAffinity"}:
        return value
    rules = value if isinstance(value, list) else [value]
    affinity: dict[str, Any] = {}
    for rule in rules:
        rule = {"mode": rule} if isinstance(rule, str) else dict(rule)
        mode = rule.get("mode")
        if mode not in ("stack", "spread"):
            raise ValueError(f"affinity mode must be 'stack' or 'spread', got {mode!r}")
        term = {
            "labelSelector": {"matchExpressions": rule.get("selectors") or [{"key": L.TASK, "operator": "Exists"}]},
            "topologyKey": rule.get("label") or DEFAULT_TOPOLOGY_KEY,
        }
        if rule.get("namespaces"):
            term["namespaces"] = list(rule["namespaces"])
        kind = affinity.setdefault("podAffinity" if mode == "stack" else "podAntiAffinity", {})
        if rule.get("required"):
            kind.setdefault("requiredDuringSchedulingIgnoredDuringExecution", []).append(term)
        else:
            kind.setdefault("preferredDuringSchedulingIgnoredDuringExecution", []).append(
                {"weight": int(rule.get("weight", 1)), "podAffinityTerm": term})
    return affinity


def resources_spec(taskdef: TaskDefinition) -> dict[str, Any] | None:
    """Requests and limits; a limit defaults to its request (as in the original, and on Docker)."""
    requests = {k: str(v) for k, v in (("cpu", taskdef.cpu), ("memory", taskdef.memory)) if v}
    limits = {k: str(v) for k, v in (("cpu", taskdef.cpu_limit or taskdef.cpu),
                                     ("memory", taskdef.memory_limit or taskdef.memory)) if v}
    spec = {}
    if requests:
        spec["requests"] = requests
    if limits:
        spec["limits"] = limits
    return spec or None


def pod_env(taskdef: TaskDefinition) -> list[dict[str, Any]]:
    """The container's env: plain values, secret/configmap references, and the task definition."""
    env = [{"name": k, "value": v} for k, v in sorted(taskdef.env.items())]
    for name, source in sorted((taskdef.engine_options.get("env_from") or {}).items()):
        kind = "secretKeyRef" if source["source"] == "secret" else "configMapKeyRef"
        env = [e for e in env if e["name"] != name]
        env.append({"name": name, "value_from": {kind: {"name": source["name"], "key": source["key"]}}})
    env.append({"name": TASK_ENV, "value": taskdef.to_json()})
    return env


def pod_labels(taskdef: TaskDefinition) -> tuple[dict[str, str], dict[str, str]]:
    """(labels, annotations): label values are restricted, so names and paths are annotations."""
    every = L.task_labels(taskdef)
    labels = {k: every[k] for k in (L.RUN, L.TASK, L.PARENT, L.ROOT)}
    annotations = {k: v for k, v in every.items() if k not in labels}
    return labels, annotations


def pod_yaml(taskdef: TaskDefinition, owner: dict[str, str] | None = None) -> str:
    """The Pod of ``taskdef`` as YAML; ``owner`` is the parent pod (name, uid)."""
    options = taskdef.engine_options
    labels, annotations = pod_labels(taskdef)
    return render(
        "k8s", "pod.yaml.j2",
        task=taskdef, namespace=options.get("namespace", "default"), labels=labels, annotations=annotations,
        owner=owner, service_account=options.get("service_account"), pull_secrets=options.get("pull_secrets") or [],
        node_selector=options.get("node_selector") or {}, tolerations=options.get("tolerations") or [],
        affinity=options.get("affinity"), command=options.get("command") or RUNTIME_COMMAND, env=pod_env(taskdef),
        resources=resources_spec(taskdef), ports=[p["container_port"] for p in options.get("ports") or []],
        fileshare=fileshare_spec(taskdef),
    )


def fileshare_spec(taskdef: TaskDefinition) -> dict[str, Any] | None:
    """The file share's sidecar of a pod whose task sees the caller's folder (None without one)."""
    share = taskdef.engine_options.get("fileshare")
    if not share:
        return None
    from cowait.fileshare.relay import SIDECAR_MOUNT, agent_command

    return {"target": share["target"], "mount": SIDECAR_MOUNT,
            "command": agent_command(bool(share.get("read_only")), share.get("client"))}


# libyaml's parser where PyYAML has it: a tenth of the pure-Python one's time on every subtask's pod
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def pod_manifest(taskdef: TaskDefinition, owner: dict[str, str] | None = None) -> dict[str, Any]:
    """The Pod of ``taskdef`` as the API takes it (the rendered YAML, parsed)."""
    return yaml.load(pod_yaml(taskdef, owner), Loader=SAFE_LOADER)


def rbac_yaml(namespace: str, service_account: str, router: str | None) -> str:
    """ServiceAccount, Role (pods, pods/log, pods/exec; router objects if needed) and RoleBinding."""
    return render("k8s", "rbac.yaml.j2", namespace=namespace, service_account=service_account, router=router)


def router_yaml(taskdef: TaskDefinition, owner_uid: str, port: int) -> list[str]:
    """Service plus Ingress or IngressRoute for a task's HTTP port, per the cluster's router."""
    options = taskdef.engine_options
    router = options.get("router") or "port-forward"
    if router not in ("ingress", "traefik2"):
        return []
    context = dict(task=taskdef, namespace=options.get("namespace", "default"), owner_uid=owner_uid, port=port,
                   domain=options.get("domain") or "", traefik2=options.get("traefik2") or
                   {"entrypoints": ["web", "websecure"], "middlewares": [], "certresolver": None})
    return [render("k8s", "service.yaml.j2", **context), render("k8s", f"{router}.yaml.j2", **context)]
