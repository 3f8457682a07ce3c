"""HTTP contract tests of the Kubernetes engine: its real client code against kmock's emulator of
the API server, checking each request (method, path, query, body against the API schema) and the
engine's reading of the answers (watch events, log streams, errors)."""

from __future__ import annotations

import asyncio
import json
import threading

import kmock
import kubernetes_validate
import pytest

from cowait.engine.kubernetes.tasks import KubernetesTaskEngine
from cowait.errors import EngineError
from cowait.runtime.taskdef import TaskDefinition

NAMESPACE = "jobs"


class EmulatedCluster:
    """kmock's Kubernetes emulator on its own event loop thread, for a synchronous client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self.stop = asyncio.Event()
        async with kmock.KubernetesEmulator() as mock, kmock.Server(mock):
            mock.resources["v1/pods"] = {}
            self.mock = mock
            self.url = str(mock.url).rstrip("/")
            self.ready.set()
            await self.stop.wait()

    def __enter__(self) -> "EmulatedCluster":
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc_info) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)

    def requests(self) -> list:
        return list(self.mock)

    def put_pod(self, name: str, status: dict) -> None:
        async def put() -> None:
            self.mock.objects[kmock.resource("", "v1", "pods"), NAMESPACE, name] = {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NAMESPACE,
                                                                "resourceVersion": "1"},
                "spec": {"containers": [{"name": "task", "image": "reg.example/app@sha256:" + "a" * 64}]},
                "status": status}
        asyncio.run_coroutine_threadsafe(put(), self.loop).result(5)

    def react(self, pattern: str, payload) -> None:
        async def add() -> None:
            self.mock[pattern] << payload
        asyncio.run_coroutine_threadsafe(add(), self.loop).result(5)


@pytest.fixture
def cluster():
    with EmulatedCluster() as emulated:
        yield emulated


@pytest.fixture
def engine(cluster):
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = cluster.url
    engine = KubernetesTaskEngine({"namespace": NAMESPACE})
    engine._client = client.ApiClient(configuration)
    return engine


def task(**kw) -> TaskDefinition:
    base = dict(id="job-1a2b3c4d", name="mod:Job", run="job-1a2b3c4d", image="reg.example/app@sha256:" + "a" * 64,
                engine="kubernetes", engine_options={"namespace": NAMESPACE, "service_account": "cowait"})
    base.update(kw)
    return TaskDefinition(**base)


def test_start_posts_a_valid_pod_to_the_namespace(cluster, engine):
    engine.start(task())
    [request] = [r for r in cluster.requests() if r.method.value == "POST"]
    assert request.url.path == f"/api/v1/namespaces/{NAMESPACE}/pods"
    for version in ("1.35.0", "1.36.0", "1.37.0"):
        kubernetes_validate.validate(request.data, version, strict=True)
    assert request.data["metadata"]["labels"]["cowait.root"] == "true"
    assert "ownerReferences" not in request.data["metadata"]


def test_subtask_pod_names_its_parent_pod_as_owner(cluster, engine):
    engine._own_pod = {"name": "parent-00000000", "uid": "0d9c2c36-4b7e-4c5c-9d0e-0a1b2c3d4e5f"}
    engine.start(task(id="child-11111111", parent="parent-00000000"))
    [request] = [r for r in cluster.requests() if r.method.value == "POST"]
    assert request.data["metadata"]["ownerReferences"] == [{
        "apiVersion": "v1", "kind": "Pod", "name": "parent-00000000",
        "uid": "0d9c2c36-4b7e-4c5c-9d0e-0a1b2c3d4e5f", "blockOwnerDeletion": True}]


def test_kill_deletes_with_background_propagation(cluster, engine):
    cluster.put_pod("job-1a2b3c4d", {"phase": "Running"})
    engine.kill(["job-1a2b3c4d", "gone-00000000"])  # a pod that is already gone is no error
    deletes = [r for r in cluster.requests() if r.method.value == "DELETE"]
    assert [r.url.path for r in deletes] == [f"/api/v1/namespaces/{NAMESPACE}/pods/job-1a2b3c4d",
                                             f"/api/v1/namespaces/{NAMESPACE}/pods/gone-00000000"]
    assert json.loads(deletes[0].body)["propagationPolicy"] == "Background"
    assert deletes[0].params.get("gracePeriodSeconds") == "2" or json.loads(deletes[0].body).get("gracePeriodSeconds") == 2


def test_forbidden_is_translated_into_the_setup_hint(cluster, engine):
    cluster.react(f"post /api/v1/namespaces/{NAMESPACE}/pods",
                  kmock.KubernetesError(status=403, reason="Forbidden", message="pods is forbidden"))
    with pytest.raises(EngineError) as info:
        engine.start(task())
    assert str(info.value) == (f"cannot create pod job-1a2b3c4d: forbidden in namespace {NAMESPACE} "
                               "(run 'cowait cluster setup CLUSTER' to create the service account and role)")


def test_image_pull_failure_is_translated(cluster, engine):
    cluster.put_pod("job-1a2b3c4d", {"phase": "Pending", "containerStatuses": [{
        "name": "task", "ready": False, "restartCount": 0, "image": "x", "imageID": "",
        "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]})
    with pytest.raises(EngineError, match=r"cannot be pulled \(ImagePullBackOff: Back-off pulling image\); "
                                          r"check that it was pushed"):
        list(engine.follow("job-1a2b3c4d"))


def test_unschedulable_is_translated_with_the_schedulers_reason(cluster, engine):
    cluster.put_pod("job-1a2b3c4d", {"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient memory."}]})
    with pytest.raises(EngineError, match="cannot be scheduled: 0/3 nodes are available: 3 Insufficient memory"):
        engine.wait_started("job-1a2b3c4d")


def test_logs_are_streamed_after_the_container_started(cluster, engine):
    cluster.put_pod("job-1a2b3c4d", {"phase": "Running", "containerStatuses": [{
        "name": "task", "ready": True, "restartCount": 0, "image": "x", "imageID": "",
        "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]})
    cluster.react(f"get /api/v1/namespaces/{NAMESPACE}/pods/job-1a2b3c4d/log", b"first line\nsecond line\n")
    assert list(engine.follow("job-1a2b3c4d")) == ["first line", "second line"]
    [log_request] = [r for r in cluster.requests() if r.url.path.endswith("/log")]
    assert log_request.params["follow"] == "true" and log_request.params["container"] == "task"


def test_oom_is_told_from_other_exits(cluster, engine):
    cluster.put_pod("oom-00000000", {"phase": "Failed", "containerStatuses": [{
        "name": "task", "ready": False, "restartCount": 0, "image": "x", "imageID": "",
        "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]})
    assert engine.wait("oom-00000000") == (137, "ran out of memory (OOMKilled)")
    # the pod is read through a list narrowed to its name (the emulator ignores the selector)
    [listing] = [r for r in cluster.requests() if r.method.value == "GET"]
    assert listing.url.path == f"/api/v1/namespaces/{NAMESPACE}/pods"
    assert listing.params["fieldSelector"] == "metadata.name=oom-00000000"


def test_eviction_is_reported(cluster, engine):
    cluster.put_pod("evicted-0000000", {"phase": "Failed", "reason": "Evicted",
                                        "message": "The node was low on resource: memory."})
    assert engine.wait("evicted-0000000") == (137, "was evicted (The node was low on resource: memory.)")


def test_start_is_seen_through_a_watch_not_polling(cluster, engine):
    """A pending pod, then a change to Running arriving as a watch event."""
    from kubernetes import client

    cluster.put_pod("job-1a2b3c4d", {"phase": "Pending"})
    configuration = client.Configuration()
    configuration.host = cluster.url
    other = client.CoreV1Api(client.ApiClient(configuration))

    def start_later() -> None:
        import time

        time.sleep(0.5)
        other.patch_namespaced_pod_status("job-1a2b3c4d", NAMESPACE, {"status": {
            "phase": "Running", "containerStatuses": [{"name": "task", "ready": True, "restartCount": 0,
                                                        "image": "x", "imageID": "",
                                                        "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}})

    threading.Thread(target=start_later, daemon=True).start()
    pod = engine.wait_started("job-1a2b3c4d")
    assert pod["status"]["phase"] == "Running"
    watches = [r for r in cluster.requests() if r.params.get("watch") == "true"]
    assert watches and watches[0].params["fieldSelector"] == "metadata.name=job-1a2b3c4d"
    assert "resourceVersion" in watches[0].params  # resumes from the listing, no missed change


def test_a_pod_with_the_file_share_posts_its_sidecar(cluster, engine):
    from cowait.fileshare.cluster import pod_option

    engine.start(task(engine_options={"namespace": NAMESPACE, "service_account": "cowait",
                                      "fileshare": pod_option(read_only=False)}))
    [request] = [r for r in cluster.requests() if r.method.value == "POST"]
    for version in ("1.35.0", "1.36.0", "1.37.0"):
        kubernetes_validate.validate(request.data, version, strict=True)
    containers = {c["name"]: c for c in request.data["spec"]["containers"]}
    assert containers["share"]["securityContext"] == {"privileged": True}
    assert containers["share"]["volumeMounts"][0]["mountPropagation"] == "Bidirectional"
    assert containers["task"]["volumeMounts"][0] == {"name": "cowait-share", "mountPath": "/var/task",
                                                     "mountPropagation": "HostToContainer"}


def test_a_task_is_finished_when_its_container_ends_while_the_sidecar_runs(cluster, engine):
    """The kubelet sorts container statuses by name, so the sidecar ('share') comes first; the pod
    stays Running while the sidecar runs, but the task has ended with its own container's exit code."""
    cluster.put_pod("nb-00000000", {"phase": "Running", "containerStatuses": [
        {"name": "share", "ready": True, "restartCount": 0, "image": "x", "imageID": "",
         "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}},
        {"name": "task", "ready": False, "restartCount": 0, "image": "x", "imageID": "",
         "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}]})
    code, _ = engine.wait("nb-00000000")
    assert code == 3


def test_a_pod_security_refusal_of_the_sidecar_says_what_to_do(cluster, engine):
    message = ('pods "job-1a2b3c4d" is forbidden: violates PodSecurity "baseline:latest": privileged '
               '(container "share" must not set securityContext.privileged=true)')
    cluster.react(f"post /api/v1/namespaces/{NAMESPACE}/pods",
                  kmock.KubernetesError(status=403, reason="Forbidden", message=message))
    with pytest.raises(EngineError) as info:
        engine.start(task())
    assert str(info.value) == (
        f"cannot create pod job-1a2b3c4d: {message} (the file share's sidecar runs privileged (FUSE); allow "
        f"privileged pods in namespace {NAMESPACE} (label pod-security.kubernetes.io/enforce=privileged) or start "
        "the notebook with --share off)")


def test_a_parent_watches_its_subtasks_with_one_watch(cluster, engine):
    """Three subtasks started, seen running and finished through one list and one watch of the
    parent's children (label cowait.parent), not a list and a watch per child."""
    from kubernetes import client

    engine._own_pod = {"name": "parent-00000000", "uid": "0d9c2c36-4b7e-4c5c-9d0e-0a1b2c3d4e5f"}
    names = [f"child-{index}0000000" for index in range(3)]
    for name in names:
        engine.start(task(id=name, parent="parent-00000000"))
    configuration = client.Configuration()
    configuration.host = cluster.url
    other = client.CoreV1Api(client.ApiClient(configuration))

    def state(kind: str, detail: dict) -> dict:
        return {"status": {"phase": "Running" if kind == "running" else "Succeeded", "containerStatuses": [{
            "name": "task", "ready": kind == "running", "restartCount": 0, "image": "x", "imageID": "",
            "state": {kind: detail}}]}}

    def progress() -> None:
        import time

        time.sleep(0.3)
        for name in names:
            other.patch_namespaced_pod_status(name, NAMESPACE, state("running", {"startedAt": "2026-01-01T00:00:00Z"}))
        time.sleep(0.3)
        for index, name in enumerate(names):
            other.patch_namespaced_pod_status(name, NAMESPACE, state("terminated", {
                "exitCode": index, "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:01Z"}))

    threading.Thread(target=progress, daemon=True).start()
    codes: dict[str, int] = {}

    def follow(name: str) -> None:
        assert engine.wait_started(name)["metadata"]["name"] == name
        codes[name] = engine.wait(name)[0]

    threads = [threading.Thread(target=follow, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert codes == {name: index for index, name in enumerate(names)}
    reads = [r for r in cluster.requests() if r.method.value == "GET" and r.url.path.endswith("/pods")]
    assert reads and all(r.params.get("labelSelector") == "cowait.parent=parent-00000000" for r in reads), \
        [dict(r.params) for r in reads]
    assert len([r for r in reads if r.params.get("watch") == "true"]) == 1
