"""Run the project's pytest suite in a container of its image (through testcontainers), as a task:
tests can start real subtasks; output streams live; every container is removed at the end."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cowait.config import Project
from cowait.runs.docker_run import DockerRun
from cowait.runs.kubernetes_run import KubernetesRun
from cowait.runs.lifecycle import Outcome, Run
from cowait.runs.plan import RunOptions, plan_docker_run
from cowait.runs.record import RunRecord
from cowait.runtime.taskdef import TaskDefinition
from cowait.testing import JUNIT_FILE

log = logging.getLogger("cowait.testing")

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
        run: Run = KubernetesTestRun(root, RunRecord(project.root, root.id), command)
    else:
        root = plan_docker_run(project, run_options, image, warnings)
        run = DockerTestRun(root, RunRecord(project.root, root.id), command)

    def show(event: dict[str, Any]) -> None:
        if event.get("type") == "log" and event.get("id") == root.id:
            on_output(event.get("line", ""))
        elif event.get("id") != root.id and event.get("type") != "artifact":
            on_event(event)

    with run:
        run.follow(show)
        code = run.outcome().exit_code
    report = run.record.dir / JUNIT_FILE
    if options.junitxml is not None and report.is_file():
        options.junitxml.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(report, options.junitxml)
    return -1 if code is None else code


class _TestRun:
    """A pytest session as a run: it ends with pytest's exit code, not a task result."""

    def _ended(self) -> Outcome:
        code, _ = self.engine.wait(self.root.id)  # type: ignore[attr-defined]
        return Outcome("done" if code == 0 else "fail", exit_code=code)


class DockerTestRun(_TestRun, DockerRun):
    """The test container through testcontainers; removed with the run's network at the end."""

    def __init__(self, root: TaskDefinition, record: RunRecord, command: list[str]) -> None:
        super().__init__(root, record)
        self.command = command
        self.container = None

    def start(self) -> None:
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # every container is labelled and removed by us
        from docker.types import Mount
        from testcontainers.core.container import DockerContainer

        from cowait.engine.docker.tasks import _mount

        self.record.create()
        self.record.write_summary(self._summary("running"))
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
        if self.container is not None:
            try:
                self.container.stop()
            except Exception:  # noqa: BLE001 - removed with the run in any case
                log.debug("could not stop test container %s", self.root.id, exc_info=True)
        super().remove()


class KubernetesTestRun(_TestRun, KubernetesRun):
    """The test pod on a cluster; deleting it deletes the subtasks it owns."""

    def __init__(self, root: TaskDefinition, record: RunRecord, command: list[str]) -> None:
        root.engine_options["command"] = command
        super().__init__(root, record)
