"""A run on a Kubernetes cluster: plan the root pod from the project and the cluster's settings,
run the image by digest, and delete the root pod at the end (its subtasks go with it)."""

from __future__ import annotations

from typing import Any

from cowait.config import Project
from cowait.config.schema import EnvSource, KubernetesCluster
from cowait.errors import CowaitError
from cowait.runs.docker_run import Run
from cowait.runs.plan import PROJECT_MOUNT, RunOptions, resources
from cowait.runs.record import RunRecord
from cowait.runtime.taskdef import TaskDefinition, new_task_id
from cowait.runtime.types import encode


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
    """The root task definition of a run on a cluster (the project comes from the image)."""
    env: dict[str, str] = {}
    env_from: dict[str, Any] = {}
    for key, value in project.settings.environment.items():
        if isinstance(value, EnvSource):
            env_from[key] = {"source": value.source, "name": value.name, "key": value.key}
        else:
            env[key] = value
    dotenv = project.workdir / ".env"
    if dotenv.is_file():
        from dotenv import dotenv_values

        env.update({k: v or "" for k, v in dotenv_values(dotenv).items()})
    env.update(options.env)
    for key in list(env_from):
        if key in env:
            del env_from[key]
    settings = project.settings
    run_id = new_task_id(options.task)
    workdir = PROJECT_MOUNT if settings.workdir in (".", "") else f"{PROJECT_MOUNT}/{settings.workdir.strip('/')}"
    engine_options = kubernetes_options(cluster, env_from)
    if not engine_options["affinity"] and settings.affinity:
        from cowait.engine.kubernetes.manifests import affinity_spec

        engine_options["affinity"] = affinity_spec(settings.affinity)
    return TaskDefinition(
        id=run_id, name=options.task, run=run_id, image=image, parent=None, inputs=encode(options.inputs), env=env,
        volumes=[], engine="kubernetes", engine_options=engine_options, project_dir=str(project.root),
        workdir=workdir,
        **resources(options, cluster, settings),
    )


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

