"""The engines the scenarios run on, and what the scenarios share: a project built for each engine,
the commands that reach it, and waiting for what the engine reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

KUBECONFIG = os.environ.get("COWAIT_TEST_KUBECONFIG")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@dataclass
class Engine:
    """A project built for one engine, and how to reach that engine."""

    name: str
    root: Path
    image: str
    args: list[str]  # the cluster flag of every command (none for the local engine)
    namespace: str | None
    run: Callable[..., subprocess.CompletedProcess]
    env: dict[str, str]

    def cowait(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return self.run(*args, timeout=timeout)

    def on(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """A command on this engine (the cluster flag goes last: click takes options anywhere)."""
        return self.run(*args, *self.args, timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen:
        """A long-running command in the project (the caller stops it), its output in pipes."""
        return subprocess.Popen([sys.executable, "-m", "cowait", *args], cwd=self.root, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def core_api():
    from kubernetes import client, config

    return client.CoreV1Api(config.new_client_from_config(config_file=KUBECONFIG))


def run_id_of(done: subprocess.CompletedProcess) -> str:
    """The root's id: the second word of the first line of the live view."""
    return done.stderr.split()[1]


def tasks_of(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    listed = engine.on("ps", "--json")
    assert listed.returncode == 0, listed.stderr
    return [row for row in json.loads(listed.stdout) if row["run"] == run_id]


def wait_for(predicate: Callable[[], Any], timeout: float = 120, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")
