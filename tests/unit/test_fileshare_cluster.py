"""Which pods the caller's file share serves on a cluster: only pods whose owner references lead to
the run's root pod (created by this process), never a pod that merely carries the run's labels."""

from __future__ import annotations

from pathlib import Path

from cowait.fileshare.cluster import ClusterShare


def pod(name: str, uid: str, owner: str | None = None, sidecar: bool = True, running: bool = True) -> dict:
    """A pod as the API's JSON."""
    containers = [{"name": "task"}] + ([{"name": "share"}] if sidecar else [])
    metadata = {"name": name, "uid": uid, "labels": {"cowait.run": "nb-1"}}
    if owner:
        metadata["ownerReferences"] = [{"apiVersion": "v1", "kind": "Pod", "name": "parent", "uid": owner}]
    state = {"running": {"startedAt": "2026-01-01T00:00:00Z"}} if running else {"waiting": {"reason": "ContainerCreating"}}
    statuses = [{"name": c["name"], "image": "x", "imageID": "", "ready": running, "restartCount": 0, "state": state}
                for c in containers]
    return {"metadata": metadata, "spec": {"containers": containers}, "status": {"containerStatuses": statuses}}


def test_only_pods_owned_by_the_runs_root_are_served(tmp_path: Path):
    share = ClusterShare(tmp_path, engine=None, run_id="nb-1")
    share._closing.set()  # serve threads end at once: this test is about the choice of pods
    root = pod("nb-1", "uid-root")
    share._trusted[root["metadata"]["uid"]] = root["metadata"]["name"]
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
    warnings: list[str] = []
    share = ClusterShare(tmp_path, engine=None, run_id="nb-1", warn=warnings.append)
    share._closing.set()
    share._trusted["uid-root"] = "nb-1"
    broken = pod("nb-1", "uid-root", running=False)
    broken["status"]["containerStatuses"][1]["state"] = {"terminated": {"exitCode": 2, "reason": "Error"}}
    share._consider(broken)
    share._consider(broken)
    assert warnings == ["the file share's sidecar in pod nb-1 stopped (exit 2); its files are not live "
                        "(see 'kubectl logs nb-1 -c share')"]
    assert share._served == {}
