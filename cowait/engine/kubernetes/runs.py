"""The run half of the Kubernetes engine: what the CLI asks of a cluster on the caller's machine
(the pushed image by digest, the root pod's settings from the cluster's config, the launch, the
notebook's port through the router or a port-forward, the streamed file share)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from cowait.errors import ImageNotAvailable

if TYPE_CHECKING:
    from cowait.config import Project
    from cowait.runtime.taskdef import TaskDefinition


def resolve_pushed_image(project: "Project", image: str | None) -> str:
    """``repository@sha256:...`` of the project's image as pushed; a clear error if it never was."""
    from docker.errors import ImageNotFound

    from cowait.build.builder import split_image
    from cowait.engine.docker.client import docker_client

    repository, tag = split_image(image or project.image)
    if "@" in repository:
        return repository
    ref = f"{repository}:{tag or 'latest'}"
    try:
        found = docker_client().images.get(ref)
    except ImageNotFound:
        raise ImageNotAvailable(f"image {ref} not found", hint="build and push it with 'cowait build --push'") from None
    digests = [d for d in (found.attrs.get("RepoDigests") or []) if d.split("@")[0] == repository]
    if not digests:
        raise ImageNotAvailable(f"image {ref} has not been pushed, so the cluster cannot pull it",
                                hint="run 'cowait build --push' first")
    return digests[0]


def cluster_options(cluster: Any) -> dict[str, Any]:
    """A ``kubernetes`` cluster of cowait.yml as engine options (inherited by every subtask)."""
    from cowait.engine.kubernetes.manifests import affinity_spec

    return {
        "namespace": cluster.namespace, "context": cluster.context, "kube_config_file": cluster.kube_config_file,
        "service_account": cluster.service_account, "pull_secrets": list(cluster.pull_secrets),
        "node_selector": dict(cluster.node_selector), "tolerations": list(cluster.tolerations),
        "affinity": affinity_spec(cluster.affinity), "env_from": {}, "router": cluster.router,
        "domain": cluster.domain, "traefik2": cluster.traefik2.model_dump(),
    }


class KubernetesRuns:
    """Mixed into the Kubernetes engine: its run half (see ``TaskEngine``)."""

    local = False
    options: dict[str, Any]

    def run_image(self, project: "Project", image: str | None, warnings: list[str]) -> str:
        """The pushed image by digest: what every pod of the run pulls."""
        return resolve_pushed_image(project, image)

    def root_settings(self, project: "Project", options: Any, run_id: str,
                      warnings: list[str]) -> tuple[dict[str, str], list[dict[str, Any]], dict[str, Any]]:
        """The project comes from the image (no volumes); secret and config map references of
        cowait.yml become ``valueFrom``; the cluster's settings (or the project's affinity)."""
        from cowait.engine.kubernetes.manifests import affinity_spec
        from cowait.runs.plan import split_environment

        env, references = split_environment(project, options.env)
        engine_options = {**self.options, "env_from": {
            key: {"source": ref.source, "name": ref.name, "key": ref.key} for key, ref in references.items()}}
        if not engine_options.get("affinity") and project.settings.affinity:
            engine_options["affinity"] = affinity_spec(project.settings.affinity)
        return env, [], engine_options

    def default_parallelism(self) -> int | None:
        """No bound: the scheduler queues pods that do not fit."""
        return None

    def launch(self, root: "TaskDefinition", record_dir: Path, command: list[str] | None = None) -> None:
        """Create the root pod (its manifest kept in the record); ``command`` replaces the runtime."""
        from cowait.engine.kubernetes.manifests import pod_yaml

        if command is not None:
            root.engine_options["command"] = command
        (record_dir / "pod.yaml").write_text(pod_yaml(root))
        self.start(root)  # type: ignore[attr-defined]

    def publish(self, root: "TaskDefinition", container_port: int, local_port: int | None = None) -> None:
        """Declare the port on the pod; it is reached through the router or a port-forward."""
        root.engine_options.setdefault("ports", []).append({"container_port": container_port})

    def reach(self, root: "TaskDefinition", container_port: int,
              local_port: int | None = None) -> tuple[str, Callable[[], None]]:
        """Through the cluster's router when a domain is set (its Service and Ingress are owned by
        the root pod), else a port-forward from 127.0.0.1 that this process holds."""
        pod = self.wait_started(root.id)  # type: ignore[attr-defined]
        router, domain = root.engine_options.get("router"), root.engine_options.get("domain")
        if router in ("ingress", "traefik2") and domain:
            import yaml

            from cowait.engine.kubernetes.manifests import router_yaml

            self.create_objects([yaml.safe_load(t) for t in router_yaml(root, pod["metadata"]["uid"], container_port)])  # type: ignore[attr-defined]
            scheme = "https" if router == "traefik2" and (root.engine_options.get("traefik2") or {}).get("certresolver") else "http"
            return f"{scheme}://{root.id}.{domain}", lambda: None
        from cowait.engine.kubernetes.portforward import PortForward

        forward = PortForward(self.stream_api, self.namespace, root.id, container_port, local_port or 0).__enter__()  # type: ignore[attr-defined]
        return f"http://127.0.0.1:{forward.local_port}", forward.close

    def file_share(self, project: "Project", root: "TaskDefinition", read_only: bool,
                   warn: Callable[[str], None]) -> Any:
        """The caller serves its folder into the share sidecar of every pod of the run."""
        from cowait.fileshare.cluster import ClusterShare

        return ClusterShare(project.root, self, root.run, read_only=read_only,
                            exclude=project.settings.fileshare.exclude, warn=warn)

    def setup(self, print_only: bool = False) -> list[str]:
        """The least-privilege RBAC of task pods: ServiceAccount, Role, RoleBinding."""
        import yaml

        from cowait.engine.kubernetes.apply import apply_documents
        from cowait.engine.kubernetes.manifests import rbac_yaml

        text = rbac_yaml(self.namespace, self.options.get("service_account") or "cowait",  # type: ignore[attr-defined]
                         self.options.get("router") or "port-forward")
        if print_only:
            return [text.rstrip()]
        return list(apply_documents(self.api_client, list(yaml.safe_load_all(text))))  # type: ignore[attr-defined]
