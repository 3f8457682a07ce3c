"""The live Kubernetes suite: the same tasks and notebooks on the cluster COWAIT_TEST_KUBECONFIG names.

CI runs it against the k8sim simulator (scripts/test.sh starts it); on kind or k3d:
`COWAIT_TEST_KUBECONFIG=$(kind get kubeconfig-path) bash scripts/test.sh tests/k8s_live`
(the image must then be pullable by the cluster: see the README).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.support.fileshare import KILL_UPSTREAMS

KUBECONFIG = os.environ.get("COWAIT_TEST_KUBECONFIG")
pytestmark = [
    pytest.mark.k8s,
    pytest.mark.skipif(not KUBECONFIG, reason="COWAIT_TEST_KUBECONFIG is not set: no cluster to run the live suite on"),
]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def core():
    from kubernetes import client, config

    return client.CoreV1Api(config.new_client_from_config(config_file=KUBECONFIG))


@pytest.fixture(scope="module")
def namespace(core):
    from kubernetes import client

    name = f"cowait-live-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="module")
def project(tmp_path_factory, registry, namespace):
    """The tasks and notebooks fixtures as one project, built and pushed, with RBAC set up."""
    from cowait.engine.docker.client import docker_client

    root = tmp_path_factory.mktemp("live") / "project"
    shutil.copytree(FIXTURES / "tasks", root)
    for name in ("square.ipynb", "batch.ipynb", "helpers.py"):
        shutil.copy(FIXTURES / "notebooks" / name, root / name)
    image = f"{registry}/cowait-live/{uuid.uuid4().hex[:6]}"
    (root / "cowait.yml").write_text(
        f"version: 1\ncowait:\n  image: {image}\n  environment:\n    FROM_CONFIG: config\n"
        f"  clusters:\n    live:\n      type: kubernetes\n      kube_config_file: {KUBECONFIG}\n"
        f"      namespace: {namespace}\n")
    env = {**os.environ, "HOME": str(root.parent)}

    def cowait(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cowait", *args], cwd=root, env=env, capture_output=True, text=True)

    setup = cowait("cluster", "setup", "live")
    assert setup.returncode == 0, setup.stderr
    pushed = cowait("build", "--push", "-q")
    assert pushed.returncode == 0, pushed.stderr
    yield root, cowait
    for found in docker_client().images.list(name=image):
        docker_client().images.remove(found.id, force=True, noprune=True)


def _exec(namespace: str, pod: str, container: str, command: list[str]) -> str:
    """Output of a command in a pod's container (the exec websocket, on a client of its own)."""
    from kubernetes import client, config
    from kubernetes.stream import stream

    api = client.CoreV1Api(config.new_client_from_config(config_file=KUBECONFIG))
    return stream(api.connect_get_namespaced_pod_exec, pod, namespace, container=container, command=command,
                  stdin=False, stdout=True, stderr=True, tty=False)


def pods(core, namespace: str, selector: str = "cowait.task") -> list:
    return core.list_namespaced_pod(namespace, label_selector=selector).items


def wait_gone(core, namespace: str, selector: str, timeout: float = 60) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = pods(core, namespace, selector)
        if not left:
            return []
        time.sleep(0.5)
    return left


def test_fan_out_with_owner_references_and_cleanup(project, core, namespace):
    root, cowait = project
    seen_owners: dict[str, str] = {}
    stop = threading.Event()

    def watch_owners() -> None:
        while not stop.is_set():
            for pod in pods(core, namespace, "cowait.root=false"):
                for owner in pod.metadata.owner_references or []:
                    seen_owners[pod.metadata.name] = owner.name
            time.sleep(0.2)

    watcher = threading.Thread(target=watch_owners, daemon=True)
    watcher.start()
    result = cowait("run", "fanout:FanOut", "-c", "live", "-i", "n=4")
    stop.set()
    watcher.join()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == 0 + 1 + 4 + 9
    assert result.stderr.count("started fanout:square") == 4
    assert "squaring 3" in result.stderr  # subtask logs stream through the root's log
    run_id = result.stderr.split()[1]
    assert seen_owners and set(seen_owners.values()) == {run_id}  # children are owned by the root pod
    assert wait_gone(core, namespace, f"cowait.run={run_id}") == []


def test_failing_child_reaches_the_cli(project, core, namespace):
    root, cowait = project
    result = cowait("run", "failing:parent", "-c", "live", "-i", "message=live-boom")
    assert result.returncode == 1
    assert "ValueError: live-boom" in result.stderr.strip().splitlines()[-1]
    assert wait_gone(core, namespace, f"cowait.run={result.stderr.split()[1]}") == []


def test_environment_and_typed_round_trip(project):
    root, cowait = project
    env = cowait("run", "env_task:show_env", "-c", "live", "-i", 'names=["FROM_CONFIG","FROM_DOTENV","X"]',
                 "-e", "X=cli", "-q")
    assert env.returncode == 0, env.stderr
    assert json.loads(env.stdout) == {"FROM_CONFIG": "config", "FROM_DOTENV": "dotenv", "X": "cli"}
    typed = cowait("run", "typed:via_child", "-c", "live", "-i", "when=2021-01-01T00:00:00", "-q")
    assert typed.returncode == 0, typed.stderr
    assert json.loads(typed.stdout)["types"][:4] == ["int", "float", "str", "bool"]


def test_notebook_run_fans_out_on_the_cluster(project):
    root, cowait = project
    result = cowait("notebook", "run", "batch.ipynb", "-c", "live", "--input", "start=20210101",
                    "--input", "end=20210103")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == [1, 4, 9]


def test_ctrl_c_deletes_the_tree(project, core, namespace):
    root, cowait = project
    import signal

    process = subprocess.Popen([sys.executable, "-m", "cowait", "run", "sleeper:sleepy", "-c", "live",
                                "-i", "children=2"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "HOME": str(root.parent)})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(pods(core, namespace, "cowait.root=false")) < 2:
        time.sleep(0.3)
    assert len(pods(core, namespace, "cowait.root=false")) >= 2
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 130
    assert wait_gone(core, namespace, "cowait.task") == []


def test_image_that_was_never_pushed_is_refused(project):
    root, cowait = project
    result = cowait("run", "fanout:FanOut", "-c", "live", "--image", "cowait-never-pushed:1")
    assert result.returncode == 1
    assert "image cowait-never-pushed:1 not found" in result.stderr or "has not been pushed" in result.stderr


def test_failures_are_translated(project, core, namespace, tmp_path):
    root, cowait = project
    config = root / "cowait.yml"
    original = config.read_text()
    try:
        config.write_text(original + "    nowhere:\n      type: kubernetes\n"
                          f"      kube_config_file: {KUBECONFIG}\n      namespace: {namespace}\n"
                          "      node_selector: {disktype: none-such}\n")
        unschedulable = cowait("run", "fanout:square", "-c", "nowhere", "-i", "x=1")
        assert unschedulable.returncode == 1
        assert "cannot be scheduled" in unschedulable.stderr and "node" in unschedulable.stderr
        missing_image = cowait("run", "fanout:square", "-c", "live", "-i", "x=1",
                               "--image", f"{project[0].name}-missing@sha256:{'0' * 64}")
        assert missing_image.returncode == 1
        # a real cluster reports ErrImagePull; the simulator may fail the pod before that
        assert ("cannot be pulled" in missing_image.stderr
                or "failed before its container started" in missing_image.stderr), missing_image.stderr
    finally:
        config.write_text(original)
    assert wait_gone(core, namespace, "cowait.task") == []


def test_cowait_test_on_the_cluster_with_junit(project, tmp_path):
    root, cowait = project
    (root / "test_live_suite.py").write_text(
        "from fanout import square\n\nasync def test_square_in_a_pod():\n    assert await square(x=7) == 49\n")
    try:
        pushed = cowait("build", "--push", "-q")
        assert pushed.returncode == 0, pushed.stderr
        report = tmp_path / "junit.xml"
        result = cowait("test", "-c", "live", "--junitxml", str(report))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 passed" in result.stdout
        assert 'tests="1"' in report.read_text()
    finally:
        (root / "test_live_suite.py").unlink()


@pytest.mark.parametrize("client", ["sshfs", "cowait"])
def test_cowait_notebook_on_the_cluster_sees_the_callers_folder_live(project, core, namespace, client):
    """`cowait notebook -c`: Jupyter through a port-forward, and the caller's folder streamed into the
    pod by the file share (the default on clusters): files made on the host after the start are read
    in the pod, files the notebook writes land on the host, and a NotebookRunner subtask (its own pod,
    with its own sidecar and the same FUSE client) runs a notebook that exists only on the caller's
    disk. With each FUSE client: sshfs, and our own (COWAIT_SHARE_CLIENT=cowait)."""
    import signal

    from tests.support.jupyter import JupyterServer

    root, cowait = project
    config = root / "cowait.yml"
    original = config.read_text()
    config.write_text(original.replace("  environment:", "  features: {notebook: true}\n  environment:"))
    try:
        assert cowait("build", "--push", "-q").returncode == 0
        process = subprocess.Popen([sys.executable, "-m", "cowait", "notebook", "-c", "live"], cwd=root,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "HOME": str(root.parent), "COWAIT_SHARE_CLIENT": client})
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), process.stderr.read() if process.poll() is not None else url
        base, token = url.split("/lab?token=")
        kernel = JupyterServer(base, token).start_kernel()
        try:
            [server] = pods(core, namespace, "cowait.root=true")
            assert [c.name for c in server.spec.containers] == ["task", "share"]
            mounts = kernel.execute("print(open('/proc/mounts').read())")
            assert f" /var/task fuse.{client} " in mounts.stdout, mounts.stdout
            (root / "from-host.txt").write_text("written on the host after the start")
            read = kernel.execute("print(open('from-host.txt').read())")
            assert read.stdout.strip() == "written on the host after the start", read.error
            wrote = kernel.execute("open('from-pod.txt', 'w').write('written in the pod')")
            assert wrote.status == "ok", wrote.error
            assert (root / "from-pod.txt").read_text() == "written in the pod"
            notebook = json.loads((root / "square.ipynb").read_text())  # reports its pod's share client
            notebook["cells"].insert(-2, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                          "source": "print('share:', *[line.split()[2] for line in open('/proc/mounts')"
                                                    " if line.split()[1] == '/var/task'][-1:])"})
            (root / "only-on-the-host.ipynb").write_text(json.dumps(notebook))
            result = kernel.execute("value = await NotebookRunner(path='only-on-the-host.ipynb', x=6)\n"
                                    "import sys; sys.stdout.write(f'value {value}\\n')")
            assert result.status == "ok", result.error
            assert "value 36" in result.stdout
            assert "| square of 6 is 36" in result.stdout
            assert f"| share: fuse.{client}\n" in result.stdout, result.stdout  # the subtask's own sidecar
            # the subtask's pod (with its sidecar) is removed once its task ended
            assert wait_gone(core, namespace, "cowait.root=false", timeout=30) == []
            # the stream into the sidecar is cut (as by a network failure): cowait reconnects, and
            # the same kernel reads and writes the caller's files again
            killed = _exec(namespace, server.metadata.name, "share", ["python", "-c", KILL_UPSTREAMS])
            assert killed.strip() == "1", killed
            (root / "after-the-cut.txt").write_text("still live")
            recovered = kernel.execute(
                "import time\nstart = time.time()\nwhile True:\n    try:\n"
                "        text = open('after-the-cut.txt').read(); break\n"
                "    except OSError:\n        time.sleep(0.1)\n"
                "open('written-after-the-cut.txt', 'w').write(text)\nprint(round(time.time() - start, 2))")
            assert recovered.status == "ok", recovered.error
            print(f"stream cut: files live again after {recovered.stdout.strip()}s")
            assert (root / "written-after-the-cut.txt").read_text() == "still live"
        finally:
            kernel.ws.close()
            if process.poll() is None and sys.exc_info()[0] is not None:
                process.send_signal(signal.SIGINT)
                process.communicate(timeout=60)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
        assert process.returncode == 0
    finally:
        config.write_text(original)
        for name in ("from-host.txt", "from-pod.txt", "only-on-the-host.ipynb", "after-the-cut.txt",
                     "written-after-the-cut.txt"):
            (root / name).unlink(missing_ok=True)
    assert wait_gone(core, namespace, "cowait.task") == []
