"""``cowait test``: the project's pytest suite inside its own image."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cowait.cli.params import KeyValue, pairs_to_dict
from cowait.cli.run_cmd import parallelism_option


@click.command(context_settings={"ignore_unknown_options": False})
@click.option("-c", "--cluster", help="Cluster to run on (default: default_cluster).")
@click.option("--mount/--no-mount", default=True, help="Mount the project (default), or test exactly what the image holds.")
@click.option("-m", "--marks", help="Only tests matching this mark expression (pytest -m).")
@click.option("-k", "keyword", help="Only tests matching this expression (pytest -k).")
@click.option("-x", "--exitfirst", is_flag=True, help="Stop at the first failure.")
@click.option("-v", "--verbose", is_flag=True, help="Verbose pytest output.")
@click.option("--junitxml", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report here.")
@click.option("--timeout", type=float, help="Seconds one async test may run (default 300).")
@click.option("-e", "--env", "env", type=KeyValue(), multiple=True, help="Environment variable KEY=VALUE.")
@parallelism_option
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def test(cluster, mount, marks, keyword, exitfirst, verbose, junitxml, timeout, env, parallelism, pytest_args) -> None:
    """Run the project's tests with pytest inside the project image; exit with pytest's code.

    Tests can start real tasks (`await MyTask(...)`, `await NotebookRunner(...)`); async tests need
    no decorator. Arguments after `--` go to pytest, e.g. `cowait test -- -s --maxfail=2`.
    """
    from cowait.cli.output import error, info, warning
    from cowait.cli.project import build_project, open_project
    from cowait.cli.run_view import RunView
    from cowait.runs.engines import cluster_engine
    from cowait.testing.session import NO_TESTS_COLLECTED, TestOptions, run_tests

    project = open_project()
    _, engine = cluster_engine(project, cluster)
    from cowait.build.builder import has_tests
    from cowait.build.context import project_files

    if not has_tests(project_files(project.root, project.settings.ignore)):
        error(f"no tests found in {project.root}; test files are named test_*.py or *_test.py")
        sys.exit(NO_TESTS_COLLECTED)
    image = build_project(project)
    warnings: list[str] = []
    if not engine.local:
        info("on a cluster, tests run what the pushed image holds (push it with 'cowait build --push')")
        image = engine.run_image(project, None, warnings)
    options = TestOptions(mount=mount, marks=marks, keyword=keyword, exitfirst=exitfirst, verbose=verbose,
                          junitxml=junitxml.resolve() if junitxml else None, timeout=timeout,
                          pytest_args=list(pytest_args), cluster=cluster, env=pairs_to_dict(env),
                          parallelism=parallelism)

    def output(line: str) -> None:
        click.echo(line)

    from cowait.cli.run_cmd import trap_termination

    trap_termination()
    code = 1
    with RunView("pytest", mode="plain") as subtasks:
        try:
            code = run_tests(project, engine, image, options, output, subtasks, warnings)
        except KeyboardInterrupt:
            error("tests stopped; their containers are removed")
            sys.exit(130)
    for message in warnings:
        warning(message)
    if code == NO_TESTS_COLLECTED:
        error(f"no tests found in {project.workdir}" + (" (matching the given -m/-k)" if marks or keyword else "")
              + "; test files are named test_*.py or *_test.py")
    elif junitxml and code in (0, 1):
        info(f"JUnit report: {junitxml}")
    sys.exit(code)
