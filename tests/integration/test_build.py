"""`cowait build` and `cowait push` on the real Docker engine."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.docker

ORIGINAL_FORMAT = """
version: 1
cowait:
  image: {image}
  environment:
    MODE: test
"""


def _local_layers(docker_client) -> set[str]:
    """Every layer of every image the engine holds, intermediate ones included."""
    return {layer for image in docker_client.images.list(all=True) for layer in image.attrs["RootFS"]["Layers"]}


def run_in_image(docker_client, image: str, command: list[str]) -> str:
    output = docker_client.containers.run(image, command, remove=True, labels={"cowait.test": "1"})
    return output.decode()


def test_build_original_format_project_with_a_pypi_requirement(cowait, make_project, image_name, docker_client):
    root = make_project({
        "cowait.yml": ORIGINAL_FORMAT.format(image=image_name),
        "requirements.txt": "six==1.16.0\n",
        "task.py": "VALUE = 1\n",
        "secret.txt": "do not ship\n",
        "data/big.csv": "a,b\n",
        ".dockerignore": "secret.txt\n",
    })
    result = cowait("build", cwd=root)
    assert result.code == 0, result.output
    ref = result.stdout.split()[0]
    assert ref.startswith(f"{image_name}:")
    output = run_in_image(docker_client, f"{image_name}:latest", [
        "python", "-c",
        "import cowait, six, os, json; print(json.dumps([cowait.__version__, six.__version__, os.getcwd(), sorted(os.listdir('.'))]))",
    ])
    version, six_version, cwd, files = json.loads(output)
    from cowait.version import __version__

    assert version == __version__  # this exact version of cowait is inside
    assert six_version == "1.16.0"
    assert cwd == "/var/task"
    assert "task.py" in files and "data" in files
    assert "secret.txt" not in files  # .dockerignore respected
    # the content tag and latest point at the same image
    assert docker_client.images.get(ref).id == docker_client.images.get(f"{image_name}:latest").id
    # build-time files, the CA bundle included, never reach the final image
    leftovers = run_in_image(docker_client, ref, ["sh", "-c", "ls /opt/cowait-build 2>&1 || true"])
    assert "No such file" in leftovers


def test_code_change_rebuilds_only_the_project_layer(cowait, make_project, image_name, docker_client):
    root = make_project({
        "cowait.yml": ORIGINAL_FORMAT.format(image=image_name),
        "requirements.txt": "six==1.16.0\n",
        "task.py": "VALUE = 1\n",
    })
    first = cowait("build", "-q", cwd=root)
    assert first.code == 0, first.output
    same = cowait("build", "-q", cwd=root)
    assert same.stdout == first.stdout  # nothing changed: same content tag, same image
    (root / "task.py").write_text("VALUE = 2\n")
    known = _local_layers(docker_client)
    second = cowait("build", "-q", cwd=root)
    assert second.code == 0, second.output
    assert second.stdout != first.stdout
    old, new = (docker_client.images.get(r.stdout.strip()) for r in (first, second))
    old_layers, new_layers = old.attrs["RootFS"]["Layers"], new.attrs["RootFS"]["Layers"]
    assert len(old_layers) == len(new_layers)
    # Every layer but the project files came from the cache: the engine had it before this build.
    # (Not necessarily the first build's own layer: when another build of the same steps ran at the
    # same time, as the test's other worker may do, the engine takes the newest of the equal ones.)
    assert [layer in known for layer in new_layers] == [True] * (len(new_layers) - 1) + [False]
    assert old_layers[-1] != new_layers[-1]
    assert run_in_image(docker_client, f"{image_name}:latest", ["python", "-c", "import task; print(task.VALUE)"]).strip() == "2"


def test_ignore_key_and_workdir(cowait, make_project, image_name, docker_client):
    root = make_project({
        "cowait.yml": f"version: 1\ncowait:\n  image: {image_name}\n  workdir: src\n  ignore: ['**/*.csv']\n",
        "src/requirements.txt": "six==1.16.0\n",
        "src/job.py": "print('job')\n",
        "src/data.csv": "x\n",
    })
    result = cowait("build", "-q", cwd=root)
    assert result.code == 0, result.output
    output = run_in_image(docker_client, result.stdout.strip(),
                          ["python", "-c", "import os, six; print(os.getcwd(), sorted(os.listdir('.')))"])
    assert output.strip() == "/var/task/src ['job.py', 'requirements.txt']"


STALE_BYTECODE = """
import json, os, sys
import cowait.runtime.__main__, cowait.runtime.node, cowait.runtime.loader, cowait.runtime.types
print(json.dumps(sorted(name for name, module in list(sys.modules.items())
                        if getattr(module, "__cached__", None) and not os.path.exists(module.__cached__))))
"""


def test_a_task_starts_without_compiling_the_standard_library(cowait, make_project, image_name, docker_client):
    # The official python images delete the library's bytecode, and tasks write none
    # (PYTHONDONTWRITEBYTECODE, a fresh file system each): without it baked in, every subtask
    # compiles asyncio and the rest again at start-up (about 150 ms of CPU here).
    base_has = run_in_image(docker_client, "python:3.11-slim", ["python3", "-B", "-c", (
        "import asyncio, os; print(os.path.exists(asyncio.__cached__))")]).strip()
    assert base_has == "False", "the base is expected to be like the official image: no bytecode"
    root = make_project({"cowait.yml": f"version: 1\ncowait:\n  image: {image_name}\n", "hello.py": "X = 1\n"})
    result = cowait("build", "-q", cwd=root)
    assert result.code == 0, result.output
    missing = json.loads(run_in_image(docker_client, result.stdout.strip(), ["python", "-B", "-c", STALE_BYTECODE]))
    assert missing == []


def test_custom_dockerfile_is_the_base_and_requirements_still_install(cowait, make_project, image_name, docker_client):
    root = make_project({
        "cowait.yml": f"version: 1\ncowait:\n  image: {image_name}\n  dockerfile: Dockerfile.custom\n",
        "Dockerfile.custom": "ARG GREETING=none\nFROM python:3.11-slim\nARG GREETING\nRUN echo \"$GREETING\" > /greeting\n",
        "requirements.txt": "six==1.16.0\n",
    })
    result = cowait("build", "-q", "-a", "GREETING=hi there", cwd=root)
    assert result.code == 0, result.output
    output = run_in_image(docker_client, result.stdout.strip(),
                          ["sh", "-c", "cat /greeting && python -c 'import six, cowait; print(six.__version__)'"])
    assert output.split("\n")[:2] == ["hi there", "1.16.0"]


def test_extra_tag_and_image_override(cowait, make_project, image_name, docker_client):
    root = make_project({"cowait.yml": "version: 1\ncowait:\n  image: not-used\n"})
    result = cowait("build", "-q", "--image", image_name, "--tag", "v1", cwd=root)
    assert result.code == 0, result.output
    ids = {docker_client.images.get(f"{image_name}:{tag}").id for tag in ("latest", "v1")}
    assert len(ids) == 1


def test_pip_failure_names_the_requirement(cowait, make_project, image_name):
    root = make_project({
        "cowait.yml": f"version: 1\ncowait:\n  image: {image_name}\n",
        "requirements.txt": "cowait-no-such-package-xyz==9.9.9\n",
    })
    result = cowait("build", cwd=root)
    assert result.code == 1
    assert "error: pip could not install 'cowait-no-such-package-xyz==9.9.9'" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_base_image_is_a_clear_error(cowait, make_project, image_name):
    root = make_project({"cowait.yml": f"version: 1\ncowait:\n  image: {image_name}\n  base: cowait-missing-base:0\n"})
    result = cowait("build", cwd=root)
    assert result.code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: base image 'cowait-missing-base:0' is not available locally and could not be pulled")
    assert "docker pull cowait-missing-base:0" in last


def test_docker_not_running_is_a_clear_error(cowait, make_project, tmp_path):
    root = make_project({"cowait.yml": "version: 1\ncowait: {}\n"})
    result = cowait("build", cwd=root, env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert result.code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: Docker is not running or cannot be reached")


def test_ca_bundle_from_config_must_exist(cowait, make_project, image_name):
    root = make_project({"cowait.yml": f"version: 1\ncowait:\n  image: {image_name}\n  build: {{ca_bundle: nope.pem}}\n"})
    result = cowait("build", cwd=root)
    assert result.code == 2
    assert "build.ca_bundle: file not found" in result.stderr


def test_push_to_a_real_registry_prints_the_digest(cowait, make_project, docker_client, registry):
    name = f"{registry}/cowait-test/pushed"
    root = make_project({"cowait.yml": f"version: 1\ncowait:\n  image: {name}\n", "a.py": "A = 1\n"})
    try:
        result = cowait("build", "--push", cwd=root)
        assert result.code == 0, result.output
        digest_ref = result.stdout.strip().splitlines()[-1]
        assert digest_ref.startswith(f"{name}@sha256:")
        # pull it back by digest after removing the local copy
        local_id = docker_client.images.get(f"{name}:latest").id
        for tag in docker_client.images.get(local_id).tags:
            docker_client.images.remove(tag)
        pulled = docker_client.images.pull(digest_ref)
        assert pulled.id == local_id
        pulled.tag(name, "latest")
        again = cowait("push", "-q", cwd=root)
        assert again.code == 0, again.output
        assert again.stdout.strip() == digest_ref
    finally:
        for image in docker_client.images.list(name=name):
            docker_client.images.remove(image.id, force=True, noprune=True)


def test_push_needs_a_registry_part(cowait, make_project):
    root = make_project({"cowait.yml": "version: 1\ncowait:\n  image: plainname\n"})
    result = cowait("push", cwd=root)
    assert result.code == 1
    assert "has no registry or user part" in result.stderr
