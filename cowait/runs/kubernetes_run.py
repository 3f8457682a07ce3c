"""A run on a Kubernetes cluster: plan the root pod from the project and the cluster's settings,
run the image by digest, and delete the root pod at the end (its subtasks go with it)."""

from __future__ import annotations

from typing import Any

from cowait.config import Project
from cowait.config.schema import KubernetesCluster
from cowait.errors import CowaitError
from cowait.runs.lifecycle import Run
from cowait.runs.plan import RunOptions, root_definition, split_environment
from cowait.runs.record import RunRecord
from cowait.runtime.taskdef import TaskDefinition, new_task_id


def resolve_pushed_image(project: Project, image: str | None) -> str:
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
        raise CowaitError(f"image {ref} not found", hint="build and push it with 'cowait build --push'") from None
    digests = [d for d in (found.attrs.get("RepoDigests") or []) if d.split("@")[0] == repository]
    if not digests:
        raise CowaitError(f"image {ref} has not been pushed, so the cluster cannot pull it",
                          hint="run 'cowait build --push' first")
    return digests[0]


def kubernetes_options(cluster: KubernetesCluster, env_from: dict[str, Any]) -> dict[str, Any]:
    """The cluster's settings as engine options, inherited by every subtask."""
    from cowait.engine.kubernetes.manifests import affinity_spec

    return {
        "namespace": cluster.namespace, "context": cluster.context, "kube_config_file": cluster.kube_config_file,
        "service_account": cluster.service_account, "pull_secrets": list(cluster.pull_secrets),
        "node_selector": dict(cluster.node_selector), "tolerations": list(cluster.tolerations),
        "affinity": affinity_spec(cluster.affinity), "env_from": env_from, "router": cluster.router,
        "domain": cluster.domain, "traefik2": cluster.traefik2.model_dump(),
    }


def plan_kubernetes_run(project: Project, options: RunOptions, cluster: KubernetesCluster, image: str) -> TaskDefinition:
    """The root task definition of a run on a cluster (the project comes from the image; secret and
    config map references become ``valueFrom``)."""
    env, references = split_environment(project, options.env)
    env_from = {key: {"source": ref.source, "name": ref.name, "key": ref.key} for key, ref in references.items()}
    engine_options = kubernetes_options(cluster, env_from)
    if not engine_options["affinity"] and project.settings.affinity:
        from cowait.engine.kubernetes.manifests import affinity_spec

        engine_options["affinity"] = affinity_spec(project.settings.affinity)
    return root_definition(project, options, run_id=new_task_id(options.task), image=image, engine="kubernetes",
                           env=env, volumes=[], engine_options=engine_options)


class KubernetesRun(Run):
    """A run on a cluster: the root pod created through the API, deleted with its subtree."""

    def __init__(self, root: TaskDefinition, record: RunRecord) -> None:
        from cowait.engine.kubernetes.tasks import KubernetesTaskEngine

        super().__init__(root, record, KubernetesTaskEngine(root.engine_options))

    def start(self) -> None:
        from cowait.engine.kubernetes.manifests import pod_yaml

        manifest = pod_yaml(self.root)
        self.record.create()
        (self.record.dir / "pod.yaml").write_text(manifest)
        self.record.write_summary(self._summary("running"))
        self.engine.start(self.root)

    def remove(self) -> None:
        self.engine.kill([self.root.id])

