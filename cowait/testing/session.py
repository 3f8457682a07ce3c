"""Run the project's pytest suite in a container of its image (through testcontainers), as a task:
tests can start real subtasks; output streams live; every container is removed at the end."""

from __future__ import annotations

import io
import os
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cowait.config import Project
from cowait.runs.plan import RunOptions, plan_docker_run
from cowait.runs.record import RunRecord
from cowait.runs.state import normalize

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
              on_event: Callable[[dict[str, Any]], None], warnings: list[str]) -> int:
    """Run pytest in a test container; return pytest's exit code."""
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # every container is labelled and removed by us
    from docker.types import Mount
    from testcontainers.core.container import DockerContainer

    from cowait.engine.docker.tasks import DockerTaskEngine, _mount
    from cowait.runs.docker_run import remove_run

    run_options = RunOptions(task="pytest", env=options.env, cluster=options.cluster, mount=options.mount)
    root = plan_docker_run(project, run_options, image, warnings)
    engine = DockerTaskEngine()
    settings = engine.settings(root)
    record = RunRecord(project.root, root.id).create()
    engine.client.networks.create(root.engine_options["network"], driver="bridge",
                                  labels={"cowait.run": root.run})
    container = (DockerContainer(root.image)
                 .with_name(root.id)
                 .with_command(pytest_arguments(options, color=sys.stdout.isatty()))
                 .with_kwargs(labels=settings.labels, network=settings.network, init=True, working_dir=root.workdir,
                              mounts=[_mount(Mount, spec) for spec in settings.mounts],
                              extra_hosts=settings.extra_hosts or None))
    for key, value in settings.env.items():
        container.with_env(key, value)
    started = time.time()
    code = -1
    try:
        with container:
            for line in engine.follow(root.id):
                for event in normalize(root.id, line):
                    record.append_event(event)
                    if event.get("type") == "log" and event.get("id") == root.id:
                        on_output(event.get("line", ""))
                    elif event.get("id") != root.id:
                        on_event(event)
            code = int(container.get_wrapped_container().wait().get("StatusCode", -1))
            if options.junitxml is not None:
                _copy_out(container.get_wrapped_container(), JUNIT_IN_CONTAINER, options.junitxml)
    finally:
        remove_run(root.run)
        record.write_summary({"id": root.id, "task": "pytest", "status": "done" if code == 0 else "fail",
                              "image": root.image, "started": started, "ended": time.time(), "exit_code": code,
                              "result": None, "error": None})
        record.close()
    return code


def _copy_out(container: Any, source: str, target: Path) -> None:
    """Copy one file out of a (stopped) container to the host."""
    from docker.errors import NotFound

    try:
        stream, _ = container.get_archive(source)
    except NotFound:
        return
    data = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        member = archive.getmembers()[0]
        extracted = archive.extractfile(member)
        if extracted is None:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(extracted.read())
