"""The reference workflow, as a user walks it (the lab): scaffold, build with pandas, a volume
notebook tested with `cowait test`, a batch notebook fanning out over NotebookRunner, run with
`cowait notebook run` and inputs, and nothing left behind."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tests.e2e.trades import TradeServer, make_days

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HELPERS = '''
from datetime import datetime, timedelta


def daterange(start, end):
    """Every day from start to end, inclusive, as YYYYMMDD (ints from the command line work too)."""
    day = datetime.strptime(str(start), "%Y%m%d")
    last = datetime.strptime(str(end), "%Y%m%d")
    while day <= last:
        yield day.strftime("%Y%m%d")
        day += timedelta(days=1)
'''

TEST_FILE = '''
from cowait.tasks.notebook import NotebookRunner


async def test_compute_volume():
    vol = await NotebookRunner(path='volume.ipynb', date='20210101')
    assert vol == {expected}
'''


def notebook(*cells: str) -> str:
    kernel = {"name": "cowait", "display_name": "Cowait", "language": "python"}
    return nbformat.writes(new_notebook(cells=[new_code_cell(c) for c in cells], metadata={"kernelspec": kernel}))


def bridge_gateway(docker_client) -> str:
    """This host's address on Docker's default bridge (what host.docker.internal points at)."""
    import ipaddress

    config = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    return config.get("Gateway") or str(ipaddress.ip_network(config["Subnet"])[1])


def test_reference_workflow(tmp_path, docker_client, isolated_home):
    timings: dict[str, float] = {}

    def cowait(*args: str, cwd=None) -> subprocess.CompletedProcess:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "cowait", *args], cwd=cwd or project, capture_output=True, text=True)
        timings[" ".join(args[:2])] = timings.get(" ".join(args[:2]), 0) + time.monotonic() - started
        return done

    days = [f"202101{d:02d}" for d in range(1, 5)] + [f"202102{d:02d}" for d in range(1, 8)]
    volumes = make_days(tmp_path / "data", days)
    image = f"cowait-e2e-{uuid.uuid4().hex[:6]}"
    with TradeServer(tmp_path / "data", bridge_gateway(docker_client)) as server:
        work = tmp_path / "work"
        work.mkdir()
        project = work / "lab"
        assert cowait("new", "lab", "--image", image, cwd=work).returncode == 0
        config = project / "cowait.yml"
        config.write_text(f"version: 1\ncowait:\n  image: {image}\n  features:\n    notebook: true\n"
                          f"  environment:\n    TRADES_URL: http://host.docker.internal:{server.port}\n")
        (project / "requirements.txt").write_text("pandas\n")
        (project / "helpers.py").write_text(HELPERS)
        (project / "volume.ipynb").write_text(notebook(
            "import os\nimport pandas",
            "date = cowait.input('date', '20210101')\n"
            "df = pandas.read_csv(f\"{os.environ['TRADES_URL']}/{date}.csv.gz\")",
            "volume = int(df[df.symbol == 'XBTUSD']['size'].sum())\nprint(volume)",
            "cowait.exit(volume)"))
        (project / "batch.ipynb").write_text(notebook(
            "from helpers import daterange",
            "start = cowait.input('start', '20210101')\nend = cowait.input('end', '20210104')\n"
            "dates = [date for date in daterange(start, end)]\ndates",
            "subtasks = [NotebookRunner(path='volume.ipynb', date=date) for date in dates]",
            "results = await cowait.join(subtasks)",
            "cowait.exit(results)"))
        (project / "test_compute_volume.py").write_text(TEST_FILE.format(expected=volumes["20210101"]))

        try:
            built = cowait("build")
            assert built.returncode == 0, built.stderr[-3000:]

            passed = cowait("test")
            assert passed.returncode == 0, passed.stdout + passed.stderr
            assert "2 passed" in passed.stdout  # the scaffold's example test, and ours
            assert "started cowait.tasks.notebook:NotebookRunner" in passed.stderr  # the subtask, shown live

            (project / "test_compute_volume.py").write_text(TEST_FILE.format(expected=volumes["20210101"] + 1))
            failed = cowait("test")
            assert failed.returncode == 1
            assert f"assert {volumes['20210101']} == {volumes['20210101'] + 1}" in failed.stdout

            batch = cowait("notebook", "run", "batch.ipynb", "--input", "start=20210201", "--input", "end=20210207")
            assert batch.returncode == 0, batch.stderr[-3000:]
            assert json.loads(batch.stdout) == [volumes[f"202102{d:02d}"] for d in range(1, 8)]
            assert batch.stderr.count("started cowait.tasks.notebook:NotebookRunner") == 7
        finally:
            leftovers = docker_client.containers.list(all=True, filters={"label": f"cowait.project_dir={project}"})
            for found in docker_client.images.list(name=image):
                docker_client.images.remove(found.id, force=True, noprune=True)
        assert leftovers == []
    print("\nreference workflow timings: " + ", ".join(f"{k}: {v:.1f}s" for k, v in timings.items()))
