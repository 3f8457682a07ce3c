"""Run the project's pytest suite in a container of its image (through testcontainers), as a task:
tests can start real subtasks; output streams live; every container is removed at the end."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cowait.config import Project
from cowait.runs.lifecycle import Outcome, Run
from cowait.runs.plan import RunOptions, plan_run
from cowait.runs.record import RunRecord
from cowait.testing import JUNIT_FILE

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
    parallelism: int | None = None


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


def run_tests(project: Project, engine: Any, image: str, options: TestOptions, on_output: Callable[[str], None],
              on_event: Callable[[dict[str, Any]], None], warnings: list[str]) -> int:
    """Run pytest in a test container (or pod) on ``engine``; return pytest's exit code."""
    command = pytest_arguments(options, color=sys.stdout.isatty())
    run_options = RunOptions(task="pytest", env=options.env, cluster=options.cluster, mount=options.mount,
                             parallelism=options.parallelism)
    root = plan_run(project, run_options, engine, image, warnings)
    run = TestRun(root, RunRecord(project.root, root.id), engine, command)

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


class TestRun(Run):
    """A pytest session as a run: pytest replaces the task runtime in the root, and the run ends
    with pytest's exit code, not a task result."""

    __test__ = False  # not a pytest test class

    def _ended(self) -> Outcome:
        code, _ = self.engine.wait(self.root.id)
        return Outcome("done" if code == 0 else "fail", exit_code=code)
