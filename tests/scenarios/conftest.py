"""The ``engine`` fixture: one project per engine (Docker, and the cluster COWAIT_TEST_KUBECONFIG
names), built once and shared by every scenario module."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.conftest import remove_project_objects
from tests.scenarios.engines import FIXTURES, KUBECONFIG, Engine, core_api


@pytest.fixture(scope="package", params=["docker", "kubernetes"])
def engine(request, tmp_path_factory, registry):
    """The tasks fixture plus a notebook and a test, built for the engine (pushed for the cluster)."""
    kind = request.param
    if kind == "kubernetes" and not KUBECONFIG:
        pytest.skip("COWAIT_TEST_KUBECONFIG is not set: no cluster to run the scenarios on")
    root = tmp_path_factory.mktemp(f"scenario-{kind}") / "project"
    shutil.copytree(FIXTURES / "tasks", root)
    shutil.copy(FIXTURES / "notebooks" / "square.ipynb", root / "square.ipynb")
    shutil.copy(FIXTURES / "notebooks" / "leaves.ipynb", root / "leaves.ipynb")
    shutil.copy(FIXTURES / "notebooks" / "html_output.ipynb", root / "html_output.ipynb")
    (root / "test_square.py").write_text("from fanout import square\n\n\nasync def test_square():\n"
                                         "    assert await square(x=7) == 49\n")
    image = f"{registry}/cowait-scenario/{kind}-{uuid.uuid4().hex[:6]}"
    namespace = None
    clusters = ""
    if kind == "kubernetes":
        from kubernetes import client

        namespace = f"cowait-scenario-{uuid.uuid4().hex[:6]}"
        core_api().create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        clusters = (f"  clusters:\n    live:\n      type: kubernetes\n      kube_config_file: {KUBECONFIG}\n"
                    f"      namespace: {namespace}\n")
    (root / "cowait.yml").write_text(f"version: 1\ncowait:\n  image: {image}\n  environment:\n"
                                     f"    FROM_CONFIG: config\n{clusters}")
    env = {**os.environ, "HOME": str(root.parent)}

    def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cowait", *args], cwd=root, env=env, capture_output=True,
                              text=True, timeout=timeout)

    if kind == "kubernetes":
        assert run("cluster", "setup", "live").returncode == 0
    built = run("build", "--push", "-q")
    assert built.returncode == 0, built.stderr[-3000:]
    try:
        yield Engine(kind, root, image, ["-c", "live"] if kind == "kubernetes" else [], namespace, run, env)
    finally:
        remove_project_objects(root, image)
        if namespace:
            core_api().delete_namespace(namespace)
