"""A third engine plugs in by entry point: cowait.yml names its type, and run, ps, cluster add and
cluster setup go through it with no change to the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import fixture_project

pytestmark = pytest.mark.docker
PLUGIN = Path(__file__).resolve().parents[1] / "fixtures" / "engine_plugin"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    with fixture_project("plain", tmp_path_factory.mktemp("plugin")) as root:
        config = root / "cowait.yml"
        config.write_text(config.read_text() + "  clusters:\n    elsewhere:\n      type: relay\n"
                                               "      note: launched by the relay engine\n")
        yield root


def with_plugin() -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(PLUGIN), os.environ.get("PYTHONPATH")]))}


def test_a_run_goes_through_the_installed_engine(cowait, project):
    done = cowait("run", "squares:Sum", "-i", "n=3", "-c", "elsewhere", "-q", cwd=project, env=with_plugin())
    assert done.code == 0, done.stderr
    assert json.loads(done.stdout) == [0, 1, 4]
    notes = list((project / ".cowait" / "runs").glob("*/relay-engine.txt"))
    assert [n.read_text() for n in notes] == ["launched by the relay engine"]
    assert "unknown key" not in done.stderr  # the engine's own keys are its own

    listed = cowait("ps", "-a", "-c", "elsewhere", "--json", cwd=project, env=with_plugin())
    assert listed.code == 0, listed.stderr
    assert cowait("cluster", "add", "more", "--type", "relay", "-o", "note=x", cwd=project,
                  env=with_plugin()).code == 0
    setup = cowait("cluster", "setup", "elsewhere", "--print", cwd=project, env=with_plugin())
    assert setup.code == 0 and "needs no setup" in setup.stdout


def test_without_the_engine_installed_the_type_is_a_config_error(cowait, project):
    done = cowait("run", "squares:Sum", "-c", "elsewhere", cwd=project)
    assert done.code == 2
    assert "cowait.yml:8: cowait.clusters.elsewhere.type: unknown cluster type 'relay'" in done.stderr
    assert "'cowait.engines' entry point" in done.stderr and "Traceback" not in done.stderr
