"""Every Kubernetes manifest we render validates against the official schemas of the three newest
minor versions (kubernetes-validate, strict: unknown fields are errors)."""

from __future__ import annotations

import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

from cowait.config.schema import KubernetesCluster
from cowait.engine.kubernetes.manifests import affinity_spec, pod_manifest, rbac_yaml, router_yaml
from cowait.engine.kubernetes.runs import cluster_options
from cowait.runtime.taskdef import TaskDefinition

VERSIONS = ["1.35.0", "1.36.0", "1.37.0"]


def validate(document: dict) -> None:
    for version in VERSIONS:
        kubernetes_validate.validate(document, version, strict=True)


def taskdef(**options) -> TaskDefinition:
    cluster = KubernetesCluster(type="kubernetes", namespace="jobs", pull_secrets=["regcred"],
                                node_selector={"pool": "batch"},
                                tolerations=[{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}],
                                **options)
    engine_options = {**cluster_options(cluster),
                      "env_from": {"TOKEN": {"source": "secret", "name": "creds", "key": "token"},
                                   "MODE": {"source": "configmap", "name": "settings", "key": "mode"}}}
    return TaskDefinition(id="job-1a2b3c4d", name="pkg.mod:Job", run="job-1a2b3c4d", image="reg.example/app@sha256:" + "a" * 64,
                          inputs={"n": 1}, env={"PLAIN": "value"}, engine="kubernetes", engine_options=engine_options,
                          cpu="500m", cpu_limit="1", memory="256Mi", memory_limit="512Mi")


@pytest.mark.parametrize("affinity", [None, "stack", "spread", {"mode": "spread", "required": True},
                                      [{"mode": "stack", "weight": 5, "label": "topology.kubernetes.io/zone"},
                                       {"mode": "spread", "required": True}]])
def test_pod_manifest_validates(affinity):
    root = taskdef(affinity=affinity)
    pod = pod_manifest(root)
    validate(pod)
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["serviceAccountName"] == "cowait"
    assert pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "creds", "key": "token"}}
    assert env["MODE"]["valueFrom"] == {"configMapKeyRef": {"name": "settings", "key": "mode"}}
    assert TaskDefinition.from_json(env["COWAIT_TASK"]["value"]).id == root.id
    assert pod["spec"]["containers"][0]["resources"] == {"requests": {"cpu": "500m", "memory": "256Mi"},
                                                         "limits": {"cpu": "1", "memory": "512Mi"}}


def test_a_limit_defaults_to_its_request():
    root = taskdef()
    root.cpu_limit = root.memory_limit = None
    assert pod_manifest(root)["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}


def test_subtask_pod_is_owned_by_its_parent_pod():
    child = taskdef()
    child.parent = "job-1a2b3c4d"
    child.id = "child-00000000"
    pod = pod_manifest(child, owner={"name": "job-1a2b3c4d", "uid": "0d9c2c36-4b7e-4c5c-9d0e-0a1b2c3d4e5f"})
    validate(pod)
    [owner] = pod["metadata"]["ownerReferences"]
    assert owner == {"apiVersion": "v1", "kind": "Pod", "name": "job-1a2b3c4d",
                     "uid": "0d9c2c36-4b7e-4c5c-9d0e-0a1b2c3d4e5f", "blockOwnerDeletion": True}
    assert pod["metadata"]["labels"]["cowait.parent"] == "job-1a2b3c4d"


@pytest.mark.parametrize("read_only", [False, True])
def test_a_pod_with_the_file_share_carries_the_sidecar(read_only):
    """The sidecar is privileged with Bidirectional propagation (Kubernetes allows it only so), the
    task container sees the same emptyDir HostToContainer at the project folder, and subtasks inherit it."""
    from cowait.runtime.node import ROOT_ONLY_OPTIONS

    root = taskdef()
    root.engine_options["fileshare"] = {"read_only": read_only, "target": "/var/task"}
    pod = pod_manifest(root)
    validate(pod)
    task, sidecar = pod["spec"]["containers"]
    assert task["name"] == "task" and sidecar["name"] == "share"
    assert task["volumeMounts"] == [{"name": "cowait-share", "mountPath": "/var/task",
                                     "mountPropagation": "HostToContainer"}]
    assert sidecar["volumeMounts"] == [{"name": "cowait-share", "mountPath": "/mnt/share",
                                        "mountPropagation": "Bidirectional"}]
    assert sidecar["securityContext"] == {"privileged": True}
    assert sidecar["image"] == task["image"]  # one image to push
    assert sidecar["command"][:4] == ["python", "-m", "cowait.fileshare.relay", "agent"]
    assert ("--read-only" in sidecar["command"]) is read_only
    assert pod["spec"]["volumes"] == [{"name": "cowait-share", "emptyDir": {}}]
    assert "fileshare" not in ROOT_ONLY_OPTIONS  # pods of subtasks get a sidecar too
    assert len(pod_manifest(taskdef())["spec"]["containers"]) == 1  # and only with the share


@pytest.mark.parametrize("client", ["sshfs", "cowait"])
def test_subtask_pods_run_the_share_client_the_caller_chose(monkeypatch, client):
    """The caller's COWAIT_SHARE_CLIENT is written into the pod option, so a subtask's pod, rendered
    inside a pod where the variable is not set, runs the same FUSE client as the root pod."""
    from cowait.fileshare.cluster import pod_option

    monkeypatch.setenv("COWAIT_SHARE_CLIENT", client)
    option = pod_option()
    monkeypatch.delenv("COWAIT_SHARE_CLIENT")  # as in the root pod, where the subtask is rendered
    child = taskdef()
    child.engine_options["fileshare"] = option
    sidecar = pod_manifest(child)["spec"]["containers"][1]
    assert sidecar["command"][sidecar["command"].index("--client") + 1] == client


def test_the_share_client_is_our_own_unless_asked_and_a_wrong_name_is_refused(monkeypatch):
    from cowait.errors import CowaitError
    from cowait.fileshare.relay import agent_command, share_client

    monkeypatch.delenv("COWAIT_SHARE_CLIENT", raising=False)
    assert share_client() == "cowait"
    assert agent_command()[-2:] == ["--client", "cowait"]
    monkeypatch.setenv("COWAIT_SHARE_CLIENT", "sshfs")
    assert agent_command(read_only=True)[-3:] == ["--read-only", "--client", "sshfs"]
    monkeypatch.setenv("COWAIT_SHARE_CLIENT", "fuse-magic")
    with pytest.raises(CowaitError, match="COWAIT_SHARE_CLIENT=fuse-magic") as refused:
        share_client()
    assert "'cowait'" in str(refused.value) and "'sshfs'" in str(refused.value)


def test_affinity_terms_have_the_right_types():
    spread = affinity_spec({"mode": "spread", "required": True})
    term = spread["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert set(term) == {"labelSelector", "topologyKey"}  # a plain PodAffinityTerm, no weight
    stack = affinity_spec("stack")
    weighted = stack["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert set(weighted) == {"weight", "podAffinityTerm"}
    with pytest.raises(ValueError, match="'stack' or 'spread'"):
        affinity_spec("sideways")


@pytest.mark.parametrize("router", ["port-forward", "ingress", "traefik2"])
def test_rbac_is_least_privilege_and_validates(router):
    documents = list(yaml.safe_load_all(rbac_yaml("jobs", "cowait", router)))
    assert [d["kind"] for d in documents] == ["ServiceAccount", "Role", "RoleBinding"]
    for document in documents:
        validate(document)
    resources = {r for rule in documents[1]["rules"] for r in rule["resources"]}
    expected = {"pods", "pods/log", "pods/exec"}
    expected |= {"services", "ingresses"} if router == "ingress" else set()
    expected |= {"services", "ingressroutes"} if router == "traefik2" else set()
    assert resources == expected
    assert "secrets" not in resources


def test_ingress_router_objects_validate():
    root = taskdef(router="ingress", domain="cowait.example.com")
    service, ingress = (yaml.safe_load(t) for t in router_yaml(root, "0d9c2c36-4b7e-4c5c-9d0e-0a1b2c3d4e5f", 8888))
    validate(service)
    validate(ingress)
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    assert ingress["spec"]["rules"][0]["host"] == "job-1a2b3c4d.cowait.example.com"


def test_traefik2_ingress_route_carries_the_original_settings():
    root = taskdef(router="traefik2", domain="demo.cowait.io", traefik2={"certresolver": "default"})
    service, route = (yaml.safe_load(t) for t in router_yaml(root, "0d9c2c36-4b7e-4c5c-9d0e-0a1b2c3d4e5f", 8888))
    validate(service)  # the IngressRoute is a Traefik CRD: no official schema to check it against
    assert route["metadata"]["namespace"] == "jobs"  # the original created it in 'default' regardless
    assert route["spec"]["routes"][0]["match"] == "Host(`job-1a2b3c4d.demo.cowait.io`) && PathPrefix(`/`)"
    assert route["spec"]["tls"] == {"certResolver": "default"}


def test_cli_renderings_validate(tmp_path, isolated_home):
    (tmp_path / "cowait.yml").write_text(
        "version: 1\ncowait:\n  image: reg.example/app\n  environment:\n    S: {source: secret, name: s, key: k}\n"
        "  clusters:\n    demo: {type: kubernetes, namespace: jobs, router: ingress, domain: example.com}\n")
    (tmp_path / "job.py").write_text("import cowait\n\n@cowait.task\nasync def job(n: int = 1):\n    return n\n")
    rendered = {}
    for args in (["render", "k8s", "job", "-c", "demo", "-i", "n=3"], ["render", "k8s", "notebook", "-c", "demo"],
                 ["render", "k8s", "notebook", "-c", "demo", "--share", "off"], ["cluster", "setup", "demo", "--print"]):
        proc = subprocess.run([sys.executable, "-m", "cowait", *args], cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        documents = [d for d in yaml.safe_load_all(proc.stdout) if d]
        assert documents
        for document in documents:
            validate(document)
        rendered[" ".join(args[2:])] = documents
    containers = {key: [c["name"] for c in docs[0]["spec"]["containers"]] for key, docs in rendered.items()
                  if docs[0]["kind"] == "Pod"}
    assert containers["notebook -c demo"] == ["task", "share"]  # the file share is on by default on clusters
    assert containers["notebook -c demo --share off"] == ["task"]
    assert containers["job -c demo -i n=3"] == ["task"]


def test_the_file_share_can_be_turned_off_in_cowait_yml(tmp_path, isolated_home):
    (tmp_path / "cowait.yml").write_text(
        "version: 1\ncowait:\n  image: reg.example/app\n  fileshare: {enabled: false}\n"
        "  clusters:\n    demo: {type: kubernetes, namespace: jobs}\n")
    for extra, expected in (([], ["task"]), (["--share", "ro"], ["task", "share"])):
        proc = subprocess.run([sys.executable, "-m", "cowait", "render", "k8s", "notebook", "-c", "demo", *extra],
                              cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        pod = next(yaml.safe_load_all(proc.stdout))
        validate(pod)
        assert [c["name"] for c in pod["spec"]["containers"]] == expected
        if "share" in expected:
            assert "--read-only" in pod["spec"]["containers"][1]["command"]
