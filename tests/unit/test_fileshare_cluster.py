"""Which pods the caller's file share serves on a cluster: only pods whose owner references lead to
the run's root pod (created by this process), never a pod that merely carries the run's labels."""

from __future__ import annotations

from pathlib import Path

from kubernetes.client import (V1Container, V1ContainerState, V1ContainerStateRunning, V1ContainerStatus,
                               V1ObjectMeta, V1OwnerReference, V1Pod, V1PodSpec, V1PodStatus)

from cowait.fileshare.cluster import ClusterShare


def pod(name: str, uid: str, owner: str | None = None, sidecar: bool = True, running: bool = True) -> V1Pod:
    containers = [V1Container(name="task")] + ([V1Container(name="share")] if sidecar else [])
    owners = [V1OwnerReference(api_version="v1", kind="Pod", name="parent", uid=owner)] if owner else None
    statuses = [V1ContainerStatus(name=c.name, image="x", image_id="", ready=True, restart_count=0,
                                  state=V1ContainerState(running=V1ContainerStateRunning() if running else None))
                for c in containers]
    return V1Pod(metadata=V1ObjectMeta(name=name, uid=uid, labels={"cowait.run": "nb-1"}, owner_references=owners),
                 spec=V1PodSpec(containers=containers), status=V1PodStatus(container_statuses=statuses))


def test_only_pods_owned_by_the_runs_root_are_served(tmp_path: Path):
    share = ClusterShare(tmp_path, engine=None, run_id="nb-1")
    share._closing.set()  # serve threads end at once: this test is about the choice of pods
    root = pod("nb-1", "uid-root")
    share._trusted[root.metadata.uid] = root.metadata.name
    share._consider(root)
    share._consider(pod("child", "uid-child", owner="uid-root"))
    share._consider(pod("grandchild", "uid-grand", owner="uid-child"))
    share._consider(pod("impostor", "uid-x"))  # the run's label, no owner
    share._consider(pod("impostor-child", "uid-y", owner="uid-x"))
    share._consider(pod("no-sidecar", "uid-z", owner="uid-root", sidecar=False))
    share._consider(pod("starting", "uid-s", owner="uid-root", running=False))
    assert set(share._served) == {"nb-1", "child", "grandchild"}
    assert "uid-s" in share._trusted  # served once its sidecar runs
    share._consider(pod("starting", "uid-s", owner="uid-root"))
    assert "starting" in share._served


def test_a_sidecar_that_stopped_is_reported_once(tmp_path: Path):
    from kubernetes.client import V1ContainerStateTerminated

    warnings: list[str] = []
    share = ClusterShare(tmp_path, engine=None, run_id="nb-1", warn=warnings.append)
    share._closing.set()
    share._trusted["uid-root"] = "nb-1"
    broken = pod("nb-1", "uid-root", running=False)
    broken.status.container_statuses[1].state = V1ContainerState(terminated=V1ContainerStateTerminated(exit_code=2))
    share._consider(broken)
    share._consider(broken)
    assert warnings == ["the file share's sidecar in pod nb-1 stopped (exit 2); its files are not live "
                        "(see 'kubectl logs nb-1 -c share')"]
    assert share._served == {}
