"""Shared fixtures: run the real CLI, make projects, and clean up every image a test builds."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.support.user import Done as CliResult

# Tests press Ctrl-C (SIGINT) on the commands they start, as a terminal does to its foreground job,
# whose SIGINT is never ignored. A suite started in the background of a non-interactive shell
# (`bash .ci/run &`) inherits SIGINT ignored, and so would every command it starts: give them the
# terminal's default instead (a handler here becomes the default in each child).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)




@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME (and XDG config) of the test's own, so no user config leaks in."""
    real_docker_config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    # Keep the shared wheel cache: building it is not what these tests are about.
    monkeypatch.setenv("XDG_CACHE_HOME", os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")))
    monkeypatch.delenv("COWAIT_DEBUG", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(home / ".docker"))
    # compose and other CLI plugins installed for the real user stay reachable
    plugins = real_docker_config / "cli-plugins"
    own = home / ".docker" / "cli-plugins"
    own.mkdir(parents=True)
    if plugins.is_dir():
        for plugin in plugins.iterdir():
            if plugin.name != "docker-cowait":
                (own / plugin.name).symlink_to(plugin.resolve())
    return home


@pytest.fixture
def cowait(isolated_home: Path):
    """Run the real ``cowait`` command line in a subprocess, as a user would."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            input: str | None = None, timeout: float = 600) -> CliResult:
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run(
            [sys.executable, "-m", "cowait", *args], cwd=cwd, env=full_env, input=input,
            capture_output=True, text=True, timeout=timeout,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def make_project(tmp_path: Path):
    """Create a project folder with the given files (text is dedented)."""

    def make(files: dict[str, str], name: str = "proj") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return root

    return make


FIXTURES = Path(__file__).resolve().parent / "fixtures"


@contextlib.contextmanager
def fixture_project(name: str, parent: Path, build: bool = True):
    """A copy of ``tests/fixtures/<name>`` under ``parent``, with an image name of its own, built;
    afterwards its containers (what a failed test may leave) and images are removed."""
    root = parent / "project"
    shutil.copytree(FIXTURES / name, root)
    image = f"cowait-test-{name}-{uuid.uuid4().hex[:6]}"
    config = root / "cowait.yml"
    config.write_text(re.sub(r"(?m)^  image: .*$", f"  image: {image}", config.read_text(), count=1))
    if build:
        done = subprocess.run([sys.executable, "-m", "cowait", "build", "-q"], cwd=root, capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr
    try:
        yield root
    finally:
        remove_project_objects(root, image)


def remove_project_objects(root: Path, image: str) -> None:
    """Remove the containers of a project (what a failed test may leave) and every tag of its image."""
    from cowait.engine.docker.client import docker_client

    client = docker_client()
    for container in client.containers.list(all=True, filters={"label": f"cowait.project_dir={root}"}):
        container.remove(force=True)
    for found in client.images.list(name=image):
        client.images.remove(found.id, force=True, noprune=True)


@pytest.fixture
def docker_client():
    from cowait.engine.docker.client import docker_client as client

    return client()


@pytest.fixture
def image_name(docker_client):
    """A unique image name; every tag of it is removed after the test."""
    name = f"cowait-test-{uuid.uuid4().hex[:8]}"
    yield name
    for image in docker_client.images.list(name=name):
        for tag in image.tags:
            if tag.startswith(name + ":"):
                try:
                    docker_client.images.remove(tag, force=True, noprune=True)
                except Exception:
                    pass


@pytest.fixture(scope="session", autouse=True)
def no_leaked_containers(tmp_path_factory):
    """After the whole session, no container or network of this session's projects may be left.

    Only this session's objects count (their project lives under its temporary folder), so
    another test run on the same engine neither trips this check nor loses its containers to it.
    """
    try:
        from cowait.engine.docker.client import docker_client

        client = docker_client()
    except Exception:
        yield
        return
    base = str(tmp_path_factory.getbasetemp()) + "/"

    def ours(obj) -> bool:
        return (obj.attrs.get("Labels") or obj.attrs.get("Config", {}).get("Labels") or {}).get(
            "cowait.project_dir", "").startswith(base)

    yield
    leaked = [c for c in client.containers.list(all=True, filters={"label": "cowait.run"}) if ours(c)]
    leaked_networks = [n for n in client.networks.list(filters={"label": "cowait.run"}) if ours(n)]
    for container in leaked:
        container.remove(force=True)
    for network in leaked_networks:
        try:
            network.remove()
        except Exception:
            pass
    assert not leaked and not leaked_networks, (
        f"left behind: {[c.name for c in leaked]} containers, {[n.name for n in leaked_networks]} networks")


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """A real image registry (Debian's docker-registry, distribution 2.8) on a free local port, or
    the one COWAIT_TEST_REGISTRY names (one a real cluster can pull from)."""
    if os.environ.get("COWAIT_TEST_REGISTRY"):
        yield os.environ["COWAIT_TEST_REGISTRY"]
        return
    import shutil
    import socket
    import subprocess
    import time

    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is not installed: scripts/test.sh provisions it")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    tmp_path = tmp_path_factory.mktemp("registry")
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\nlog: {level: error}\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {tmp_path / 'registry-data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def user_install(tmp_path_factory):
    """cowait as a user gets it: the built wheel in a fresh venv with no extras (see tests/support/user.py)."""
    from tests.support.user import make_user_install

    return make_user_install(tmp_path_factory.mktemp("user-install"))


@pytest.fixture(scope="session")
def k8s_namespace():
    """A namespace of its own on the cluster COWAIT_TEST_KUBECONFIG names, deleted afterwards."""
    config_file = os.environ.get("COWAIT_TEST_KUBECONFIG")
    if not config_file:
        pytest.skip("COWAIT_TEST_KUBECONFIG is not set: no cluster to run on")
    from kubernetes import client, config

    core = client.CoreV1Api(config.new_client_from_config(config_file=config_file))
    name = f"cowait-e2e-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


# --- parallel runs (pytest-xdist, `--dist loadgroup`) -------------------------------------------
HEAVY_FIRST = ("tests/scenarios/", "tests/e2e/test_lab.py", "tests/k8s_live/")


def pytest_collection_modifyitems(config, items):
    """Tests that share a module's (or the scenarios' package) fixtures run on one worker: each
    module is a group, and a test parametrised by engine is grouped with that engine's tests, so
    the Docker and the cluster halves run side by side. The longest groups are handed out first."""
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        scope = "tests/scenarios/" if path.startswith("tests/scenarios/") else path
        params = getattr(getattr(item, "callspec", None), "params", {})
        engine = params.get("engine") or params.get("lab_engine")
        item.add_marker(pytest.mark.xdist_group(f"{scope}[{engine}]" if engine else scope))
    rank = {prefix: index for index, prefix in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: next((rank[p] for p in HEAVY_FIRST if item.nodeid.startswith(p)), len(HEAVY_FIRST)))


# --- images left untagged by this run ------------------------------------------------------------
_STARTED = __import__("time").time()


def pytest_sessionfinish(session, exitstatus):
    """Remove the untagged project images this run's rebuilds left behind (a rebuild moves the tag
    to the new image; the old one stays, a few hundred MB each, and a long-lived machine's disk
    filled with them). Once, in the controlling process; images older than the run are not touched."""
    if hasattr(session.config, "workerinput"):
        return
    from datetime import datetime

    try:
        import docker

        client = docker.from_env()
        for image in client.images.list(filters={"dangling": True, "label": "cowait.project"}):
            stamp = re.sub(r"(\.\d{6})\d*", r"\1", image.attrs["Created"]).replace("Z", "+00:00")
            if datetime.fromisoformat(stamp).timestamp() >= _STARTED:
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(image.id)
    except Exception:  # noqa: BLE001 - no engine (unit runs): nothing to clean
        pass
