"""Tasks as Pods: create (owned by the parent's pod), watch until started, stream logs, wait, delete."""

from __future__ import annotations

import os
import socket
import threading
from typing import Any, Iterator

from cowait.engine import labels as L
from cowait.engine.kubernetes import failures
from cowait.engine.info import TaskInfo
from cowait.engine.kubernetes.client import api_client, current_namespace, in_cluster
from cowait.engine.kubernetes.podapi import PodApi
from cowait.engine.kubernetes.podwatch import ChildWatch
from cowait.engine.kubernetes.runs import KubernetesRuns, cluster_options
from cowait.errors import EngineError, EngineForbidden, EngineUnavailable, TaskGone, TaskStartFailed
from cowait.runtime.taskdef import ENV_LIMIT, TaskDefinition

CONTAINER = failures.TASK_CONTAINER


class KubernetesTaskEngine(KubernetesRuns):
    """The Kubernetes engine as the runtime (in a pod) and the CLI (with a kubeconfig) use it."""

    name = "kubernetes"

    @classmethod
    def from_cluster(cls, cluster: Any) -> "KubernetesTaskEngine":
        """The engine of a ``type: kubernetes`` cluster of cowait.yml."""
        return cls(cluster_options(cluster))

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        options = options or {}
        self.options = dict(options)
        self.namespace = options.get("namespace") or current_namespace()
        self._context = options.get("context")
        self._config_file = options.get("kube_config_file")
        self._client = None  # the ApiClient, made on first use
        self._pods: PodApi | None = None
        self._api_lock = threading.Lock()
        self._owner_lock = threading.Lock()
        self._own_pod: dict[str, str] | None = None
        self._watches: dict[str, ChildWatch] = {}  # by parent task: one watch of its children

    @property
    def api_client(self) -> Any:
        """The client's ApiClient (kubeconfig or service account): for the generic object helpers."""
        with self._api_lock:  # the first spawns of a fan-out ask at once: one client, imported once
            if self._client is None:
                self._client = api_client(self._context, self._config_file)
            return self._client

    @property
    def pod_api(self) -> PodApi:
        """Pods of the namespace, as JSON (see ``podapi`` for why not ``CoreV1Api``)."""
        if self._pods is None:
            made = PodApi(self.api_client, self.namespace)
            with self._api_lock:
                if self._pods is None:
                    self._pods = made
        return self._pods

    def stream_api(self):
        """A CoreV1Api of its own for websocket streams: the client's stream helpers swap the
        request function of the ApiClient they use, which must not be one other threads share."""
        from kubernetes import client

        return client.CoreV1Api(api_client(self._context, self._config_file))

    def _fail(self, exc: Exception, action: str) -> EngineError:
        from kubernetes.client.exceptions import ApiException

        if isinstance(exc, ApiException):
            if exc.status == 403 and "PodSecurity" in _message(exc):
                return EngineForbidden(f"{action}: {_message(exc)}",
                                   hint="the file share's sidecar runs privileged (FUSE); allow privileged pods in "
                                        f"namespace {self.namespace} (label pod-security.kubernetes.io/enforce="
                                        "privileged) or start the notebook with --share off")
            if exc.status == 403:
                return EngineForbidden(f"{action}: forbidden in namespace {self.namespace}",
                                   hint="run 'cowait cluster setup CLUSTER' to create the service account and role")
            if exc.status == 401:
                return EngineForbidden(f"{action}: the cluster refused the credentials",
                                   hint="check the kubeconfig user or the service account token")
            return EngineError(f"{action}: {exc.status} {exc.reason}: {_message(exc)}")
        return EngineUnavailable(f"{action}: {exc}", hint="is the cluster reachable? check 'kubectl get pods'")

    # --- start ----------------------------------------------------------------------------
    def owner(self) -> dict[str, str] | None:
        """The pod this process runs in: the owner of the subtasks it starts (None outside a cluster)."""
        with self._owner_lock:  # looked up once, not by each of a fan-out's first spawns
            if self._own_pod is None and in_cluster():
                name = os.environ.get("HOSTNAME") or socket.gethostname()
                metadata = self.pod_api.read(name)["metadata"]
                self._own_pod = {"name": metadata["name"], "uid": metadata["uid"]}
        return self._own_pod

    def manifest(self, taskdef: TaskDefinition) -> dict[str, Any]:
        from cowait.engine.kubernetes.manifests import pod_manifest

        size = len(taskdef.to_json())
        if size > ENV_LIMIT:
            raise TaskStartFailed(f"task {taskdef.id}: its definition is {size // 1024} KiB; on Kubernetes inputs must "
                              f"stay under {ENV_LIMIT // 1024} KiB", hint="pass large data as files or URLs")
        return pod_manifest(taskdef, self.owner() if taskdef.parent else None)

    def start(self, taskdef: TaskDefinition) -> None:
        """Create the pod of ``taskdef`` (owned by this process's pod when it is a subtask)."""
        self._create(taskdef, self.manifest(taskdef))

    def _create(self, taskdef: TaskDefinition, body: dict[str, Any]) -> None:
        watch = self._child_watch(taskdef.parent) if taskdef.parent else None
        if watch is not None:
            watch.expect(taskdef.id)
        try:
            self.pod_api.create(body)
        except Exception as exc:  # noqa: BLE001 - translated
            if watch is not None:
                watch.forget(taskdef.id)
            raise self._fail(exc, f"cannot create pod {taskdef.id}") from exc

    def _child_watch(self, parent: str) -> ChildWatch:
        with self._api_lock:
            found = self._watches.get(parent)
        if found is None:
            pods = self.pod_api
            with self._api_lock:
                found = self._watches.setdefault(parent, ChildWatch(pods, f"{L.PARENT}={parent}"))
        return found

    def start_image(self, taskdef: TaskDefinition, command: list[str] | str | None, env: dict[str, str]) -> None:
        """Create a pod of any image (not a cowait task) as a subtask of this process's pod: the
        image's own entrypoint, ``command`` as its arguments (Docker's CMD), only ``env``."""
        import shlex
        from dataclasses import replace

        plain = replace(taskdef, engine_options={k: v for k, v in taskdef.engine_options.items() if k != "fileshare"})
        body = self.manifest(plain)
        container = body["spec"]["containers"][0]
        container.pop("command", None)
        container.pop("workingDir", None)
        container["env"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
        if command is not None:
            container["args"] = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
        self._create(taskdef, body)

    def ensure_image(self, image: str) -> None:
        """Nothing to do: the kubelet pulls the image (and a pull failure reaches the follower)."""

    def create_objects(self, documents: list[dict[str, Any]]) -> None:
        """Create extra objects of a task (router Service/Ingress) with the generic client."""
        from kubernetes import utils

        for document in documents:
            try:
                utils.create_from_dict(self.api_client, document, namespace=self.namespace)
            except Exception as exc:  # noqa: BLE001 - translated
                raise self._fail(exc, f"cannot create {document.get('kind')} {document['metadata']['name']}") from exc

    # --- watch ----------------------------------------------------------------------------
    def _watch_pod(self, name: str) -> Iterator[dict[str, Any]]:
        """The pod now, then every change to it (a watch, not polling): for a subtask this process
        started, from the one watch of its parent's children."""
        with self._api_lock:
            watches = list(self._watches.values())
        for watch in watches:
            if watch.expects(name):
                return watch.updates(name, self._watch_alone)
        return self._watch_alone(name)

    def _watch_alone(self, name: str) -> Iterator[dict[str, Any]]:
        """One pod's own list and watch (listed again when the watch's version expired)."""
        from kubernetes.client.exceptions import ApiException

        selector = f"metadata.name={name}"
        while True:
            try:
                pods, version = self.pod_api.list(field_selector=selector)
            except ApiException as exc:
                raise self._fail(exc, f"cannot read pod {name}") from exc
            if not pods:
                raise TaskGone(f"pod {name} does not exist in namespace {self.namespace}")
            yield pods[0]
            try:
                while True:
                    for kind, pod in self.pod_api.watch(version, field_selector=selector, timeout_seconds=300):
                        if kind == "DELETED":
                            raise TaskGone(f"pod {name} was deleted")
                        version = pod["metadata"].get("resourceVersion") or version
                        yield pod
            except ApiException as exc:
                if exc.status != 410:  # 410: the version is too old; list again
                    raise self._fail(exc, f"cannot watch pod {name}") from exc

    def wait_started(self, name: str) -> dict[str, Any]:
        """Block until the pod's container started (or ended); raise the reason it cannot start."""
        for pod in self._watch_pod(name):
            reason = failures.startup_failure(pod)
            if reason:
                raise TaskStartFailed(reason)
            if failures.is_started(pod) or failures.is_finished(pod):
                return pod
        raise EngineError(f"pod {name}: the watch ended")

    def follow(self, task_id: str) -> Iterator[str]:
        """Lines of the task's log, from its start until its container stops."""
        pod = self.wait_started(task_id)
        if not failures.is_started(pod):
            status = pod.get("status") or {}
            raise TaskStartFailed(f"pod {task_id} failed before its container started: "
                              f"{status.get('reason') or status.get('phase')}: {status.get('message') or 'no detail'}")
        return self.pod_api.follow_log(task_id, CONTAINER)

    def read(self, task_id: str) -> Iterator[str]:
        return iter(self.pod_api.log(task_id, CONTAINER).split("\n"))

    def wait(self, task_id: str) -> tuple[int, str]:
        """(exit code, reason in words) once the pod has finished."""
        try:
            for pod in self._watch_pod(task_id):
                if failures.is_finished(pod):
                    return failures.exit_reason(pod)
            return -1, "was lost"
        finally:
            self._forget(task_id)

    def _forget(self, task_id: str) -> None:
        with self._api_lock:
            watches = list(self._watches.values())
        for watch in watches:
            watch.forget(task_id)

    # --- cleanup --------------------------------------------------------------------------
    def remove(self, task_id: str, subtree: bool = True) -> None:
        """Delete the pod; the garbage collector deletes the pods it owns."""
        self.kill([task_id])

    def kill(self, task_ids: list[str]) -> None:
        from kubernetes.client.exceptions import ApiException

        for task_id in task_ids:
            self._forget(task_id)
            try:
                self.pod_api.delete(task_id, grace_period_seconds=2)
            except ApiException as exc:
                if exc.status != 404:
                    raise self._fail(exc, f"cannot delete pod {task_id}") from exc

    def remove_run(self, run_id: str) -> None:
        """Delete the run's root pod (the garbage collector takes its tree) and any pod left of it."""
        pods = self.pods(run_id)
        roots = [failures.name(p) for p in pods if (p["metadata"].get("labels") or {}).get(L.ROOT) == "true"]
        self.kill(roots or [failures.name(p) for p in pods])

    def pods(self, run: str | None = None) -> list[dict[str, Any]]:
        """Pods of cowait tasks (of one run, if given)."""
        selector = f"{L.RUN}={run}" if run else L.TASK
        try:
            return self.pod_api.list(label_selector=selector)[0]
        except Exception as exc:  # noqa: BLE001 - translated
            raise self._fail(exc, f"cannot list pods in namespace {self.namespace}") from exc

    def list(self, all: bool = True, run: str | None = None) -> list[TaskInfo]:
        """Every cowait task pod (of one run, if given); ``all=False`` leaves out ended ones."""
        found = [task_info(pod) for pod in self.pods(run)]
        return found if all else [t for t in found if t.live]

    # --- streams for the file share and notebooks -----------------------------------------
    def exec_stream(self, task_id: str, command: list[str], container: str = CONTAINER, binary: bool = False) -> Any:
        """An interactive exec websocket (stdin, stdout, stderr) into a container of a task's pod;
        ``binary`` keeps stdout as bytes (the file share's byte stream)."""
        from kubernetes.stream import stream

        return stream(self.stream_api().connect_get_namespaced_pod_exec, task_id, self.namespace, container=container,
                      command=command, stdin=True, stdout=True, stderr=True, tty=False, _preload_content=False,
                      binary=binary)


def task_info(pod: dict[str, Any]) -> TaskInfo:
    """A pod as the engine-neutral TaskInfo (labels, annotations and the task container's state)."""
    metadata = pod.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    exit_code = None
    if failures.is_finished(pod):
        exit_code, _ = failures.exit_reason(pod)
        status = "done" if exit_code == 0 else "fail"
    elif failures.is_started(pod):
        status = "running"
    else:
        status = "pending"
    created = metadata.get("creationTimestamp")
    return TaskInfo(
        id=labels.get(L.TASK, metadata.get("name", "")), name=annotations.get(L.NAME, ""), run=labels.get(L.RUN, ""),
        parent=labels.get(L.PARENT, ""), root=labels.get(L.ROOT) == "true", status=status, exit_code=exit_code,
        created=_timestamp(created) if created else None, project_dir=annotations.get(L.PROJECT_DIR, ""),
        engine="kubernetes")


def _timestamp(text: str) -> float:
    """Seconds since the epoch of an API time (RFC 3339, ``2026-01-01T00:00:00Z``)."""
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _message(exc: Any) -> str:
    import json

    body = exc.body.decode("utf-8", errors="replace") if isinstance(exc.body, bytes) else exc.body
    try:
        return json.loads(body).get("message", "")
    except (ValueError, TypeError, AttributeError):
        return str(body or "")[:300]
