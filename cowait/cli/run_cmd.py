"""``cowait run TASK``: run a task (and its subtasks) and show the tree, the logs and the result."""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from cowait.cli.dashboard_cmd import dashboard_option
from cowait.cli.params import KeyValue, pairs_to_dict


RUN_FLAGS = ("inputs", "input_file", "env", "cluster", "image", "cpu", "cpu_limit", "memory", "memory_limit",
             "parallelism")


@dataclass
class RunFlags:
    """The flags of `run_options`, as the command got them."""

    inputs: tuple[tuple[str, Any], ...]
    input_file: str | None
    env: tuple[tuple[str, str], ...]
    cluster: str | None
    image: str | None
    cpu: str | None
    cpu_limit: str | None
    memory: str | None
    memory_limit: str | None
    parallelism: int | None

    def options(self, task: str, inputs: dict[str, Any] | None = None, cluster: str | None = None) -> Any:
        """The RunOptions of a run of ``task`` (``inputs`` over the flags' own; ``cluster`` over ``-c``)."""
        from cowait.runs.plan import RunOptions

        return RunOptions(task=task, inputs={**read_inputs(self.input_file, self.inputs), **(inputs or {})},
                          env=pairs_to_dict(self.env), cluster=cluster or self.cluster, image=self.image,
                          cpu=self.cpu, cpu_limit=self.cpu_limit, memory=self.memory, memory_limit=self.memory_limit,
                          parallelism=self.parallelism)


def run_options(func):
    """Options shared by `run`, `notebook run` and `render`: inputs, env, cluster, resources,
    parallelism; the command gets them as one ``flags`` argument (RunFlags)."""
    options = [
        click.option("-i", "--input", "inputs", type=KeyValue(decode_json=True), multiple=True,
                     help="Input KEY=VALUE; the value is JSON-decoded when it parses (repeatable)."),
        click.option("-f", "--file", "--json-file", "--yml", "--yaml", "input_file", type=click.Path(dir_okay=False),
                     help="A YAML or JSON file with a mapping of inputs (-i wins)."),
        click.option("-e", "--env", "env", type=KeyValue(), multiple=True,
                     help="Environment variable KEY=VALUE (wins over .env and cowait.yml)."),
        click.option("-c", "--cluster", help="Cluster from cowait.yml or ~/.cowait.yml (default: default_cluster)."),
        click.option("--image", help="Run this image instead of the project's."),
        click.option("--cpu", help="CPU request, e.g. 1 or 500m."),
        click.option("--cpu-limit", help="CPU limit."),
        click.option("--memory", "--mem", "memory", help="Memory request, e.g. 512Mi."),
        click.option("--memory-limit", "--mem-limit", "memory_limit", help="Memory limit."),
        parallelism_option,
    ]

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        flags = RunFlags(**{name: kwargs.pop(name) for name in RUN_FLAGS})
        return func(*args, flags=flags, **kwargs)

    for option in reversed(options):
        command = option(command)
    return command


parallelism_option = click.option(
    "--parallelism", type=int,
    help="Most subtasks running at once over the whole tree; the rest wait in a queue (0: no bound; "
         "default: parallelism in cowait.yml, else twice the CPUs locally and no bound on clusters).")


def read_inputs(input_file: str | None, pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """Inputs from ``-f FILE`` overlaid with ``-i`` pairs."""
    from cowait.errors import UsageError

    inputs: dict[str, Any] = {}
    if input_file:
        import yaml

        path = Path(input_file)
        try:
            data = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise UsageError(f"{input_file}: cannot read: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise UsageError(f"{input_file}: invalid YAML/JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise UsageError(f"{input_file}: expected a mapping of input names to values")
        inputs.update(data)
    inputs.update(pairs_to_dict(pairs))
    return inputs


@click.command()
@click.argument("task")
@run_options
@click.option("-b", "--build", "build_first", is_flag=True, help="Build the image before running.")
@click.option("-d", "--detach", is_flag=True, help="Start the run and return; follow it with 'cowait logs -f'.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the result as JSON.")
@click.option("--json", "--raw", "as_json", is_flag=True, help="Print every event as a JSON line.")
@dashboard_option
def run(task: str, flags: RunFlags, build_first: bool, detach: bool, quiet: bool, as_json: bool,
        with_dashboard: bool) -> None:
    """Run TASK: a module with one task (`hello`) or `module:Name`.

    Exit code 0 when the task succeeds, 1 when it fails, 2 for usage or config errors.
    """
    options = flags.options(task)
    mode = "json" if as_json else "quiet" if quiet else None
    code = start_and_follow(options, build_first=build_first, detach=detach, mode=mode, dashboard=with_dashboard)
    sys.exit(code)


def start_and_follow(options: Any, *, build_first: bool = False, detach: bool = False, mode: str | None = None,
                     needs_notebook: bool = False, dashboard: bool = False) -> int:
    """Plan, start and follow a run; return the exit code. Shared by `run` and `notebook run`
    (``needs_notebook``: refuse an image built without notebook support before anything starts;
    ``dashboard``: serve the dashboard while the run lasts, open at the run)."""
    from cowait.cli.dashboard_cmd import run_dashboard
    from cowait.cli.output import error, info, result, to_json, warning
    from cowait.cli.project import build_project, open_project
    from cowait.cli.run_view import RunView
    from cowait.runs.collect import collect_finished_runs
    from cowait.runs.engines import cluster_engine
    from cowait.runs.lifecycle import Run
    from cowait.runs.plan import check_task_ref, plan_run
    from cowait.runs.record import RunRecord

    if dashboard and detach:
        from cowait.errors import UsageError

        raise UsageError("--dashboard shows a run while this command follows it, and --detach does not follow",
                         hint="watch a detached run with 'cowait dashboard'")
    project = open_project()
    cluster_name, engine = cluster_engine(project, options.cluster)
    check_task_ref(project, options.task, options.inputs)
    if build_first:
        build_project(project, quiet=mode in ("quiet", "json"))
    warnings: list[str] = []
    image = engine.run_image(project, options.image, warnings)
    if engine.local:
        collect_finished_runs(engine)
    root = plan_run(project, options, engine, image, warnings)
    run = Run(root, RunRecord(project.root, root.id), engine)
    for message in warnings:
        warning(message)
    if needs_notebook:
        from cowait.build.features import require_notebook_support

        require_notebook_support(root.image)

    previous = trap_termination()
    try:
        with run:  # whatever ends this block removes the run's containers or pods, unless detached
            if detach:
                run.detach()
                result(root.id)
                if mode is None:
                    where = f" -c {cluster_name}" if options.cluster else ""
                    info(f"detached; follow with 'cowait logs -f {root.id}{where}', "
                         f"stop with 'cowait kill {root.id}{where}'")
                return 0
            with run_dashboard(project, root.id) if dashboard else contextlib.nullcontext():
                with RunView(root.id, mode) as view:
                    run.follow(view)
                outcome = run.outcome()
    except KeyboardInterrupt:
        error(f"run {root.id} stopped; its containers are removed")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)

    if outcome.status == "done":
        if mode != "json":
            result(to_json(outcome.result))
        return 0
    failure = outcome.error or {}
    if mode is None and failure.get("traceback"):
        click.echo(click.style(failure["traceback"].rstrip(), dim=True) if sys.stderr.isatty() else
                   failure["traceback"].rstrip(), err=True)
    kind = failure.get("type", "")
    message = failure.get("message", "")
    error(f"{root.id} failed: {message}" if kind in ("TaskError", "TaskLost", "") else f"{root.id} failed: {kind}: {message}")
    return 1


def trap_termination():
    """SIGTERM (and SIGHUP) stop the run like Ctrl-C does."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        signal.signal(signal.SIGHUP, handler)
    except (AttributeError, ValueError):
        pass
    return previous
