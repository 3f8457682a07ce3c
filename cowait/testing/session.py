"""Run the project's pytest suite in a container of its image (through testcontainers), as a task:
tests can start real subtasks; output streams live; every container is removed at the end."""

from __future__ import annotations

import base64
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cowait.config import Project
from cowait.runs.plan import RunOptions, plan_docker_run
from cowait.runs.record import RunRecord
from cowait.runs.state import normalize
from cowait.runtime.taskdef import TaskDefinition

JUNIT_IN_CONTAINER = "/tmp/cowait-junit.xml"
NO_TESTS_COLLECTED = 5


@dataclass
class TestOptions:
    """What `cowait test` was asked."""

    __test__ = False  # not a pytest test class

    mount: bool = True
    marks: str | None = None
    keyword: str | None = None
    exitfirst: bool = False
    verbose: bool = False
    junitxml: Path | None = None
    timeout: float | None = None
    pytest_args: list[str] = field(default_factory=list)
    cluster: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def pytest_arguments(options: TestOptions, color: bool) -> list[str]:
    """The pytest command line inside the container."""
    args = ["python", "-m", "pytest", f"--color={'yes' if color else 'no'}"]
    if options.marks:
        args += ["-m", options.marks]
    if options.keyword:
        args += ["-k", options.keyword]
    if options.exitfirst:
        args.append("-x")
    if options.verbose:
        args.append("-v")
    if options.timeout is not None:
        args += ["-o", f"async_timeout={options.timeout:g}"]
    if options.junitxml is not None:
        args.append(f"--junitxml={JUNIT_IN_CONTAINER}")
    return args + list(options.pytest_args)


def run_tests(project: Project, image: str, options: TestOptions, on_output: Callable[[str], None],
              on_event: Callable[[dict[str, Any]], None], warnings: list[str], cluster: Any = None) -> int:
    """Run pytest in a test container (or pod, on a cluster); return pytest's exit code."""
    command = pytest_arguments(options, color=sys.stdout.isatty())
    run_options = RunOptions(task="pytest", env=options.env, cluster=options.cluster, mount=options.mount)
    if cluster is not None and cluster.type == "kubernetes":
        from cowait.runs.kubernetes_run import plan_kubernetes_run

        root = plan_kubernetes_run(project, run_options, cluster, image)
        launcher = _KubernetesSession(root, command)
    else:
        root = plan_docker_run(project, run_options, image, warnings)
        launcher = _DockerSession(root, command)
    record = RunRecord(project.root, root.id).create()
    started = time.time()
    code = -1
    try:
        launcher.start()
        for line in launcher.engine.follow(root.id):
            for event in normalize(root.id, line):
                if event.get("type") == "artifact":
                    if event.get("name") == "junitxml" and options.junitxml is not None:
                        options.junitxml.parent.mkdir(parents=True, exist_ok=True)
                        options.junitxml.write_bytes(base64.b64decode(event.get("data", "")))
                    continue
                record.append_event(event)
                if event.get("type") == "log" and event.get("id") == root.id:
                    on_output(event.get("line", ""))
                elif event.get("id") != root.id:
                    on_event(event)
        code, _ = launcher.engine.wait(root.id)
    finally:
        launcher.remove()
        record.write_summary({"id": root.id, "task": "pytest", "status": "done" if code == 0 else "fail",
                              "image": root.image, "engine": root.engine, "started": started, "ended": time.time(),
                              "exit_code": code, "result": None, "error": None})
        record.close()
    return code


class _DockerSession:
    """The test container through testcontainers (a context manager that always removes it)."""

    def __init__(self, root: TaskDefinition, command: list[str]) -> None:
        from cowait.engine.docker.tasks import DockerTaskEngine

        self.root = root
        self.command = command
        self.engine = DockerTaskEngine()
        self.container = None

    def start(self) -> None:
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # every container is labelled and removed by us
        from docker.types import Mount
        from testcontainers.core.container import DockerContainer

        from cowait.engine.docker.tasks import _mount

        settings = self.engine.settings(self.root)
        self.engine.client.networks.create(self.root.engine_options["network"], driver="bridge",
                                           labels={"cowait.run": self.root.run,
                                                   "cowait.project_dir": self.root.project_dir or ""})
        container = (DockerContainer(self.root.image)
                     .with_name(self.root.id)
                     .with_command(self.command)
                     .with_kwargs(labels=settings.labels, network=settings.network, init=True,
                                  working_dir=self.root.workdir,
                                  mounts=[_mount(Mount, spec) for spec in settings.mounts],
                                  extra_hosts=settings.extra_hosts or None))
        for key, value in settings.env.items():
            container.with_env(key, value)
        self.container = container.start()

    def remove(self) -> None:
        from cowait.runs.docker_run import remove_run

        if self.container is not None:
            try:
                self.container.stop()
            except Exception:  # noqa: BLE001 - removed below in any case
                pass
        remove_run(self.root.run)


class _KubernetesSession:
    """The test pod on a cluster; deleting it deletes the subtasks it owns."""

    def __init__(self, root: TaskDefinition, command: list[str]) -> None:
        from cowait.engine.kubernetes.tasks import KubernetesTaskEngine

        self.root = root
        root.engine_options["command"] = command
        self.engine = KubernetesTaskEngine(root.engine_options)

    def start(self) -> None:
        self.engine.start(self.root)

    def remove(self) -> None:
        self.engine.kill([self.root.id])
