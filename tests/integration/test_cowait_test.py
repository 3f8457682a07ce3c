"""`cowait test` on the real engine: pytest inside the project image, with real subtasks."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET

import pytest

pytestmark = pytest.mark.docker

TASKS = '''
import cowait


@cowait.task
async def double(x: int) -> int:
    print(f"doubling {x}")
    return 2 * x
'''

TESTS = '''
import asyncio
import os

import pytest

from tasks import double


def test_sync_runs_in_the_image():
    assert os.getcwd() == "/var/task"


async def test_async_without_decorator_starts_a_real_subtask():
    assert await double(x=21) == 42


async def test_fan_out_from_a_test():
    import cowait
    assert await cowait.join([double(x=i) for i in range(3)]) == [0, 2, 4]


async def test_run_task_fixture(run_task):
    assert await run_task("tasks:double", x=5) == 10


@pytest.mark.slow
def test_marked_slow():
    pass
'''


@pytest.fixture
def test_project(make_project, docker_client):
    image = f"cowait-test-pytest-{uuid.uuid4().hex[:6]}"
    root = make_project({"cowait.yml": f"version: 1\ncowait:\n  image: {image}\n", "tasks.py": TASKS,
                         "test_tasks.py": TESTS, "pytest.ini": "[pytest]\nmarkers =\n    slow: slow\n"})
    yield root
    for found in docker_client.images.list(name=image):
        docker_client.images.remove(found.id, force=True, noprune=True)


def test_passing_suite_with_junit_report_on_the_host(cowait, test_project, docker_client, tmp_path):
    report = tmp_path / "reports" / "junit.xml"
    result = cowait("test", "--junitxml", str(report), cwd=test_project)
    assert result.code == 0, result.output
    assert "5 passed" in result.stdout
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite.get("tests") == "5" and suite.get("failures") == "0"
    assert docker_client.containers.list(all=True, filters={"label": f"cowait.project_dir={test_project}"}) == []


def test_failures_give_pytests_exit_code_and_flags_pass_through(cowait, test_project):
    (test_project / "test_wrong.py").write_text("from tasks import double\n\n"
                                                "async def test_wrong_expectation():\n"
                                                "    assert await double(x=1) == 3\n")
    failed = cowait("test", cwd=test_project)
    assert failed.code == 1
    assert "test_wrong.py::test_wrong_expectation" in failed.stdout and "assert 2 == 3" in failed.stdout
    selected = cowait("test", "-k", "sync", "-v", cwd=test_project)
    assert selected.code == 0, selected.output
    assert "test_sync_runs_in_the_image PASSED" in selected.stdout
    marked = cowait("test", "-m", "slow", "--", "-q", cwd=test_project)
    assert marked.code == 0 and "1 passed" in marked.stdout


def test_no_mount_tests_what_the_image_holds(cowait, test_project):
    assert cowait("build", "-q", cwd=test_project).code == 0
    (test_project / "test_new.py").write_text("def test_only_on_disk():\n    pass\n")
    mounted = cowait("test", "-k", "only_on_disk", cwd=test_project)
    assert "1 passed" in mounted.stdout
    # --no-mount still builds first when the project changed: the new test is in the image
    (test_project / "test_new.py").write_text("def test_only_on_disk():\n    assert False\n")
    unmounted = cowait("test", "--no-mount", "-k", "only_on_disk", cwd=test_project)
    assert unmounted.code == 1


def test_no_tests_is_a_clear_error(cowait, make_project, docker_client):
    image = f"cowait-test-empty-{uuid.uuid4().hex[:6]}"
    root = make_project({"cowait.yml": f"version: 1\ncowait:\n  image: {image}\n", "job.py": "X = 1\n"}, name="empty")
    try:
        result = cowait("test", cwd=root)
        assert result.code == 5
        assert "error: no tests found in" in result.stderr
    finally:
        for found in docker_client.images.list(name=image):
            docker_client.images.remove(found.id, force=True, noprune=True)


def test_async_timeout_is_configurable(cowait, test_project):
    (test_project / "test_slow.py").write_text("import asyncio\n\nasync def test_sleeps():\n    await asyncio.sleep(30)\n")
    result = cowait("test", "--timeout", "1", "-k", "sleeps", cwd=test_project)
    assert result.code == 1
    assert "async test took longer than 1s" in result.stdout


def test_ctrl_c_removes_every_container(test_project, docker_client, isolated_home):
    (test_project / "test_hang.py").write_text("from tasks import double\nimport asyncio\n\n"
                                               "async def test_hangs():\n    await double(x=1)\n"
                                               "    await asyncio.sleep(300)\n")
    process = subprocess.Popen([sys.executable, "-m", "cowait", "test", "-k", "hangs"], cwd=test_project,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if docker_client.containers.list(filters={"label": f"cowait.project_dir={test_project}"}):
            break
        time.sleep(0.3)
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert docker_client.containers.list(all=True, filters={"label": f"cowait.project_dir={test_project}"}) == []
