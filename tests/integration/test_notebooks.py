"""Cowait notebooks on the real engine: NotebookRunner, `cowait notebook run`, and a real Jupyter
server started by `cowait notebook`, driven through its REST and kernel websocket API."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import nbformat
import pytest

from tests.conftest import fixture_project
from tests.support.jupyter import JupyterServer

pytestmark = [pytest.mark.docker, pytest.mark.slow]

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    with fixture_project("notebooks", tmp_path_factory.mktemp("notebooks")) as root:
        yield root


def run_id_of(stderr: str) -> str:
    return stderr.split()[1]


def test_notebook_run_returns_the_exit_value_and_saves_the_executed_notebook(cowait, project):
    result = cowait("notebook", "run", "square.ipynb", "-i", "x=5", cwd=project)
    assert result.code == 0, result.output
    assert result.stdout.strip() == "25"
    assert "square of 5 is 25" in result.stderr  # cell output streams into the log
    run_id = run_id_of(result.stderr)
    [saved] = (project / ".cowait" / "runs" / run_id).glob("square-*.ipynb")
    notebook = nbformat.read(saved, as_version=4)
    assert notebook.metadata["cowait"]["status"] == "completed"
    statuses = [c.metadata["cowait"]["status"] for c in notebook.cells if c.cell_type == "code"]
    assert statuses == ["completed", "completed", "completed", "skipped"]  # cowait.exit ended it
    printed = notebook.cells[2].outputs[0]
    assert printed["text"] == "square of 5 is 25\n"
    timing = notebook.cells[1].metadata["cowait"]
    assert timing["start"] and timing["end"] and timing["duration"] >= 0


def test_batch_notebook_fans_out_over_notebook_runner(cowait, project):
    result = cowait("notebook", "run", "batch.ipynb", "--input", "start=20210201", "--input", "end=20210204",
                    cwd=project)
    assert result.code == 0, result.output
    assert json.loads(result.stdout) == [1, 4, 9, 16]
    assert result.stderr.count("started cowait.tasks.notebook:NotebookRunner") == 4
    run_id = run_id_of(result.stderr)
    saved = sorted((project / ".cowait" / "runs" / run_id).glob("*.ipynb"))
    assert len([p for p in saved if p.name.startswith("square-")]) == 4
    assert len([p for p in saved if p.name.startswith("batch-")]) == 1


def test_failing_notebook_names_notebook_cell_and_error(cowait, project):
    result = cowait("notebook", "run", "failing.ipynb", cwd=project)
    assert result.code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "failing.ipynb: cell 2 (lookup = {}) failed: KeyError: 'missing-key'" in last
    assert "value = lookup['missing-key']" in result.stderr  # the cell's traceback
    [saved] = (project / ".cowait" / "runs" / run_id_of(result.stderr)).glob("failing-*.ipynb")
    notebook = nbformat.read(saved, as_version=4)
    assert notebook.metadata["cowait"]["status"] == "failed"
    assert [c.metadata["cowait"]["status"] for c in notebook.cells] == ["completed", "failed", "pending"]
    assert notebook.cells[1].outputs[0]["ename"] == "KeyError"


def test_papermill_parameters_cell_gets_the_inputs(cowait, project):
    result = cowait("notebook", "run", "papermill.ipynb", "-i", "alpha=5", "-i", "beta=given", "-q", cwd=project)
    assert result.code == 0, result.output
    assert json.loads(result.stdout) == {"alpha": 5, "beta": "given"}
    defaults = cowait("notebook", "run", "papermill.ipynb", "-q", cwd=project)
    assert json.loads(defaults.stdout) == {"alpha": 1, "beta": "default"}


def test_magics_and_shell_lines_work(cowait, project):
    result = cowait("notebook", "run", "magics.ipynb", "-q", cwd=project)
    assert result.code == 0, result.output
    assert json.loads(result.stdout) == {"total": 45, "shell": "shell-works"}


def test_output_option_and_notebook_runner_from_a_task(cowait, project):
    result = cowait("notebook", "run", "square.ipynb", "-i", "x=2", "--output", "out/executed.ipynb", cwd=project)
    assert result.code == 0, result.output
    notebook = nbformat.read(project / "out" / "executed.ipynb", as_version=4)
    assert notebook.metadata["cowait"]["inputs"]["x"] == 2
    from_task = cowait("run", "from_task", "-i", "n=3", "-q", cwd=project)
    assert from_task.code == 0, from_task.output
    assert json.loads(from_task.stdout) == [0, 1, 4]


def test_missing_or_invalid_notebook_is_a_one_line_error(cowait, project):
    missing = cowait("notebook", "run", "nope.ipynb", cwd=project)
    assert missing.code == 2 and missing.stderr.strip() == "error: notebook not found: nope.ipynb"
    (project / "broken.ipynb").write_text("{not json")
    try:
        broken = cowait("notebook", "run", "broken.ipynb", cwd=project)
        assert broken.code == 2
        assert broken.stderr.strip().startswith("error: broken.ipynb is not a valid notebook")
        assert len(broken.stderr.strip().splitlines()) == 1
    finally:
        (project / "broken.ipynb").unlink()


@pytest.fixture
def jupyter(project, isolated_home):
    """`cowait notebook` running in the background; yields (server driver, process)."""
    process = subprocess.Popen([sys.executable, "-m", "cowait", "notebook"], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = process.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), process.stderr.read() if process.poll() is not None else url
    base, token = url.split("/lab?token=")
    yield JupyterServer(base, token), process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


def test_cowait_notebook_serves_jupyter_with_the_cowait_kernel(jupyter, project):
    server, process = jupyter
    assert "cowait" in server.kernelspecs()["kernelspecs"]
    assert server.kernelspecs()["kernelspecs"]["cowait"]["spec"]["display_name"] == "Cowait"
    kernel = server.start_kernel()
    try:
        basics = kernel.execute("import sys, os\nprint(os.getcwd(), cowait.input('date', '20210101'), "
                                "NotebookRunner.__name__, os.getcwd() in sys.path)")
        assert basics.status == "ok", basics.error
        assert basics.stdout.strip() == "/var/task 20210101 NotebookRunner True"

        # one write for the test's own line: the subtask's status lines arrive from another thread
        spawned = kernel.execute("handle = NotebookRunner(path='square.ipynb', x=9)\nvalue = await handle\n"
                                 "import sys; sys.stdout.write(f'got {value}\\n')")
        assert spawned.status == "ok", spawned.error
        assert "* started cowait.tasks.notebook:NotebookRunner" in spawned.stdout
        assert "| square of 9 is 81" in spawned.stdout  # the subtask's log, in the cell
        assert "got 81" in spawned.stdout

        made = kernel.execute("open('from_kernel.txt', 'w').write('written in jupyter')")
        assert made.status == "ok"
        assert (project / "from_kernel.txt").read_text() == "written in jupyter"

        (project / "from_host.txt").write_text("edited on the host")
        read = kernel.execute("print(open('from_host.txt').read())")
        assert read.stdout.strip() == "edited on the host"

        exited = kernel.execute("cowait.exit({'answer': 42})")
        assert exited.status == "ok"
        assert exited.outputs[0]["data"]["application/vnd.cowait.exit+json"] == {"result": {"answer": 42}}
        after = kernel.execute("print('kernel still alive')")
        assert after.stdout.strip() == "kernel still alive"
    finally:
        kernel.shutdown()
        for name in ("from_kernel.txt", "from_host.txt"):
            (project / name).unlink(missing_ok=True)


def test_ctrl_c_stops_the_server_and_every_task_it_started(jupyter, project):
    from cowait.engine.docker.client import docker_client

    server, process = jupyter
    kernel = server.start_kernel()
    started = kernel.execute("import cowait.tasks.shell as shell\nh = cowait.spawn(shell.ShellTask, command='sleep 300')")
    assert started.status == "ok", started.error
    client = docker_client()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = client.containers.list(filters={"label": f"cowait.project_dir={project}"})
        if len(running) >= 2:
            break
        time.sleep(0.3)
    assert len(running) >= 2  # the server and the shell subtask
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 0
    assert client.containers.list(all=True, filters={"label": f"cowait.project_dir={project}"}) == []


def test_two_notebook_servers_do_not_collide(project, isolated_home):
    processes = [subprocess.Popen([sys.executable, "-m", "cowait", "notebook"], cwd=project, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        urls = [p.stdout.readline().strip() for p in processes]
        assert all(u.startswith("http://127.0.0.1:") for u in urls), urls
        assert len({u.split("/lab")[0] for u in urls}) == 2
        for url in urls:
            base, token = url.split("/lab?token=")
            assert "cowait" in JupyterServer(base, token).kernelspecs()["kernelspecs"]
    finally:
        for p in processes:
            p.send_signal(signal.SIGINT)
        for p in processes:
            p.communicate(timeout=60)
