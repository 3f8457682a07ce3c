"""The seed's lab (`shared/reference/lab-seed.md`) as written, in order, from a user's install, on
Docker and on the cluster: pandas in requirements.txt, `build --push` before any notebook exists,
`cowait notebook`, notebooks and a test file made through Jupyter landing on the caller's disk,
`cowait test` while the notebook is up, the batch notebook fanning out with NotebookRunner, `git
commit` of what the notebook wrote, and the batch notebook as a production run with inputs.

The trade files are synthetic (tests/e2e/trades.py) and served from this host; the notebook reads
them from the URL in TRADES_URL instead of Bitmex's bucket."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest

from tests.e2e.test_reference_workflow import HELPERS, bridge_gateway
from tests.e2e.trades import TradeServer, make_days
from tests.support.jupyter import JupyterServer
from tests.support.user import UserInstall, interrupt, read_url

pytestmark = [pytest.mark.docker, pytest.mark.slow]
KUBECONFIG = os.environ.get("COWAIT_TEST_KUBECONFIG")

VOLUME_CELLS = [
    "import os\nimport pandas\n"
    "date = cowait.input('date', '20210101')\n"
    "df = pandas.read_csv(f\"{os.environ['TRADES_URL']}/{date}.csv.gz\")",
    "volume = df[df.symbol == 'XBTUSD']['size'].sum()\nprint(volume)",
    "cowait.exit(volume)",
]
BATCH_CELLS = [
    "from helpers import daterange\n\n"
    "start = cowait.input('start', '20210101')\nend = cowait.input('end', '20210104')\n\n"
    "dates = [ date for date in daterange(start, end) ]\ndates",
    "subtasks = [ NotebookRunner(path='volume.ipynb', date=date) for date in dates ]",
    "results = await cowait.join(subtasks)",
    "cowait.exit(results)",
]
TEST_FILE = """# test_compute_volume.py
from cowait.tasks.notebook import NotebookRunner

async def test_compute_volume():
    vol = await NotebookRunner(path='volume.ipynb', date='20210101')
    assert vol == {expected}
"""


def notebook_body(cells: list[str]) -> dict:
    """A notebook as Jupyter Lab saves it, with the Cowait kernel selected."""
    import nbformat

    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in cells],
        metadata={"kernelspec": {"name": "cowait", "display_name": "Cowait", "language": "python"}})
    return {"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(notebook))}


def run_all_cells(server: JupyterServer, cells: list[str]) -> list:
    """'Run All Cells' in a fresh Cowait kernel; the executions, each checked to have succeeded."""
    kernel = server.start_kernel("cowait")
    try:
        done = []
        for cell in cells:
            execution = kernel.execute(cell, timeout=600)
            assert execution.status == "ok", (cell, execution.error)
            done.append(execution)
        return done
    finally:
        kernel.shutdown()


def git(*args: str, user: UserInstall, cwd) -> str:
    done = user.run("git", *args, cwd=cwd)
    assert done.code == 0, done.output
    return done.stdout


@pytest.fixture(params=["docker", "kubernetes"])
def lab_engine(request):
    """The engine the lab's notebooks run on: the local Docker engine, or the cluster named demo."""
    if request.param == "kubernetes":
        if not KUBECONFIG:
            pytest.skip("COWAIT_TEST_KUBECONFIG is not set: no cluster to run the lab on")
        return {"name": "kubernetes", "args": ["--cluster", "demo"], "namespace": request.getfixturevalue("k8s_namespace")}
    return {"name": "docker", "args": [], "namespace": None}


# The whole lab, builds with pandas included, is one test: 150 s alone, over 600 s when the other
# worker runs the 1,000-subtask scenario beside it on two cores.
@pytest.mark.timeout(1500)
def test_the_lab(lab_engine, user_install: UserInstall, tmp_path, registry, docker_client):
    user = user_install
    cluster_args = lab_engine["args"]
    env = {"KUBECONFIG": KUBECONFIG} if KUBECONFIG else {}
    days = [f"202101{d:02d}" for d in range(1, 5)] + [f"202102{d:02d}" for d in range(1, 8)]
    volumes = make_days(tmp_path / "data", days)
    image = f"{registry}/lab/cowait-notebook-eval-{uuid.uuid4().hex[:6]}"

    with TradeServer(tmp_path / "data", bridge_gateway(docker_client)) as trades:
        # The lab's repository, as cloned: cowait.yml (with the cluster) and helpers.py, committed.
        project = tmp_path / "cowait-notebook-eval"
        project.mkdir()
        clusters = (f"  clusters:\n    demo:\n      type: kubernetes\n      namespace: {lab_engine['namespace']}\n"
                    if lab_engine["namespace"] else "")
        (project / "cowait.yml").write_text(
            f"version: 1\ncowait:\n  image: {image}\n"
            f"  environment:\n    TRADES_URL: http://{trades.httpd.server_address[0]}:{trades.port}\n{clusters}")
        (project / "helpers.py").write_text(HELPERS)
        git("init", "-q", user=user, cwd=project)
        git("add", ".", user=user, cwd=project)
        git("commit", "-q", "-m", "The lab's repository", user=user, cwd=project)
        if lab_engine["namespace"]:
            setup = user.run("cowait", "cluster", "setup", "demo", cwd=project, env=env)
            assert setup.code == 0, setup.output

        # Part 1: requirements, build and push before any notebook exists, then the notebook.
        (project / "requirements.txt").write_text("pandas\n")
        pushed = user.run("cowait", "build", "--push", cwd=project, env=env)
        assert pushed.code == 0, pushed.stderr[-3000:]
        log = tmp_path / "notebook.log"
        process = user.start("cowait", "notebook", *cluster_args, cwd=project, stderr=log, env=env)
        try:
            url = read_url(process, log)
            assert url.startswith("http://127.0.0.1:"), url
            base, token = url.split("/lab?token=")
            server = JupyterServer(base, token)

            server.http.put(f"{base}/api/contents/volume.ipynb", json=notebook_body(VOLUME_CELLS)).raise_for_status()
            assert (project / "volume.ipynb").is_file()  # on the caller's disk
            interactive = run_all_cells(server, VOLUME_CELLS)
            assert interactive[1].stdout.strip() == str(volumes["20210101"])

            server.http.put(f"{base}/api/contents/test_compute_volume.py", json={
                "type": "file", "format": "text",
                "content": TEST_FILE.format(expected=volumes["20210101"])}).raise_for_status()
            assert (project / "test_compute_volume.py").read_text() == TEST_FILE.format(expected=volumes["20210101"])

            tested = user.run("cowait", "test", cwd=project, env=env)  # on this computer, while the notebook runs
            assert tested.code == 0, tested.output[-3000:]
            assert "1 passed" in tested.stdout

            git("add", ".", user=user, cwd=project)
            git("commit", "-q", "-m", "Volume notebook", user=user, cwd=project)
            assert set(git("show", "--name-only", "--format=", "HEAD", user=user, cwd=project).split()) == {
                "requirements.txt", "test_compute_volume.py", "volume.ipynb"}
            # Jupyter's checkpoints are kept, out of git's way
            assert (project / ".cowait" / "checkpoints" / "volume-checkpoint.ipynb").is_file()

            # Part 2: the batch notebook, run in Jupyter: one NotebookRunner subtask per day.
            server.http.put(f"{base}/api/contents/batch.ipynb", json=notebook_body(BATCH_CELLS)).raise_for_status()
            batch = run_all_cells(server, BATCH_CELLS + ["import json; print(json.dumps([int(r) for r in results]))"])
            assert json.loads(batch[-1].stdout) == [volumes[f"202101{d:02d}"] for d in range(1, 5)]
            git("add", ".", user=user, cwd=project)
            git("commit", "-q", "-m", "Volume batch notebook", user=user, cwd=project)
            assert "batch.ipynb" in git("show", "--name-only", "--format=", "HEAD", user=user, cwd=project).split()
        finally:
            interrupt(process)
        assert process.returncode == 0, log.read_text()[-3000:]

        # Part 3: production.
        pushed = user.run("cowait", "build", "--push", cwd=project, env=env)
        assert pushed.code == 0, pushed.stderr[-3000:]
        production = user.run("cowait", "notebook", "run", "batch.ipynb", *cluster_args,
                              "--input", "start=20210201", "--input", "end=20210207", cwd=project, env=env)
        assert production.code == 0, production.stderr[-3000:]
        assert json.loads(production.stdout) == [volumes[f"202102{d:02d}"] for d in range(1, 8)]
        assert production.stderr.count("started cowait.tasks.notebook:NotebookRunner") == 7

    leftovers = docker_client.containers.list(all=True, filters={"label": f"cowait.project_dir={project}"})
    for found in docker_client.images.list(name=image):
        docker_client.images.remove(found.id, force=True, noprune=True)
    assert leftovers == []
    if lab_engine["namespace"]:
        from kubernetes import client, config

        core = client.CoreV1Api(config.new_client_from_config(config_file=KUBECONFIG))
        deadline = time.monotonic() + 60
        while core.list_namespaced_pod(lab_engine["namespace"], label_selector="cowait.task").items:
            assert time.monotonic() < deadline, "pods of the lab are left on the cluster"
            time.sleep(0.5)
