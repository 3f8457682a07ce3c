"""A user's install (the wheel in a fresh venv): the commands, the Docker CLI plugin, and a build from it."""

from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def test_installed_commands_and_docker_plugin(user_install, tmp_path):
    env = {**user_install.env, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    help_out = subprocess.run(["cowait", "--help"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert help_out.returncode == 0 and "build" in help_out.stdout
    version = subprocess.run(["cowait", "--version"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert version.stdout.startswith("cowait ")
    meta = subprocess.run(["docker-cowait", "docker-cli-plugin-metadata"], capture_output=True, text=True, env=env)
    assert json.loads(meta.stdout)["Vendor"] == "Cowait"

    assert subprocess.run(["cowait", "plugin", "install"], env=env, cwd=tmp_path, capture_output=True).returncode == 0
    docker_help = subprocess.run(["docker", "cowait", "--help"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert docker_help.returncode == 0, docker_help.stderr
    assert "Usage: docker cowait" in docker_help.stdout
    listed = subprocess.run(["docker", "--help"], capture_output=True, text=True, env=env)
    assert "cowait*" in listed.stdout  # the Docker CLI lists it among its plugins


def test_build_from_a_regular_install_carries_that_version(user_install, make_project, image_name, docker_client,
                                                          tmp_path):
    env = {**user_install.env, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    root = make_project({"cowait.yml": f"version: 1\ncowait:\n  image: {image_name}\n"})
    subprocess.run(["cowait", "plugin", "install"], env=env, cwd=root, check=True, capture_output=True)
    build = subprocess.run(["docker", "cowait", "build", "-q"], capture_output=True, text=True, env=env, cwd=root)
    assert build.returncode == 0, build.stderr
    installed = subprocess.run([str(user_install.bin / "python"), "-c", "import cowait; print(cowait.__version__)"],
                               capture_output=True, text=True).stdout.strip()
    inside = docker_client.containers.run(build.stdout.strip(), ["python", "-c", "import cowait, cowait.resources as r; "
                                          "print(cowait.__version__, r.data_path('Dockerfile.task').is_file())"], remove=True)
    assert inside.decode().split() == [installed, "True"]
