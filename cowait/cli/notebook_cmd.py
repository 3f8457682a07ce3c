"""``cowait notebook`` (Jupyter Lab in the project image) and ``cowait notebook run`` (headless)."""

from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path
from typing import Any

import click

from cowait.cli.dashboard_cmd import dashboard_option
from cowait.cli.run_cmd import RunFlags, run_options

NOTEBOOK_TASK = "cowait.tasks.notebook"
SERVER_TASK = "cowait.notebook.server:JupyterLab"
SERVER_PORT = 8888
LOG_TAIL = 20  # lines of the server's log shown when it does not start


def container_path(project: Any, host_path: Path, what: str) -> str:
    """The path inside task containers of a file in the project (mounted at /var/task)."""
    from cowait.errors import UsageError
    from cowait.runtime.taskdef import PROJECT_MOUNT

    resolved = host_path.resolve()
    if not resolved.is_relative_to(project.root):
        raise UsageError(f"{what} {host_path} is outside the project {project.root}",
                         hint="tasks see only the project folder")
    return f"{PROJECT_MOUNT}/{resolved.relative_to(project.root).as_posix()}"


@click.group(invoke_without_command=True)
@click.option("-c", "--cluster", help="Cluster to run on (default: default_cluster).")
@click.option("--open", "open_browser", is_flag=True, help="Open the notebook in a browser.")
@click.option("--port", type=int, help="Local port (default: a free one).")
@click.option("-v", "--verbose", is_flag=True, help="Also show the Jupyter server's own log.")
@click.option("--share", type=click.Choice(["bind", "stream", "ro", "off"]),
              help="How the project folder reaches the notebook: a bind mount (default locally), the streamed "
                   "file share (default on clusters; 'ro' is read-only), or not at all (what the image holds).")
@click.pass_context
def notebook(ctx: click.Context, cluster: str | None, open_browser: bool, port: int | None, verbose: bool,
             share: str | None) -> None:
    """Start Jupyter Lab with the Cowait kernel in the project image; the project folder is live.

    Subtasks started from cells run in their own containers. Ctrl-C stops the server, its kernels
    and their subtasks, and removes every container.
    """
    if ctx.invoked_subcommand is None:
        sys.exit(serve_notebook(cluster, open_browser, port, verbose, share))


@notebook.command("run")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@run_options
@click.option("-b", "--build", "build_first", is_flag=True, help="Build the image before running.")
@click.option("-d", "--detach", is_flag=True, help="Start the run and return.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the result as JSON.")
@click.option("--json", "as_json", is_flag=True, help="Print every event as a JSON line.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to save the executed notebook (default: .cowait/runs/<run-id>/).")
@dashboard_option
def run_notebook(path: Path, flags: RunFlags, build_first: bool, detach: bool, quiet: bool, as_json: bool,
                 output: Path | None, with_dashboard: bool) -> None:
    """Run the notebook at PATH headless, as a task; its `cowait.exit` value is the result.

    Inputs (-i) reach `cowait.input` and a cell tagged `parameters`.
    """
    from cowait.cli.project import open_project
    from cowait.cli.run_cmd import start_and_follow
    from cowait.errors import UsageError
    from cowait.notebook.execute import NotebookError, read_notebook

    if path.suffix != ".ipynb" and path.with_suffix(".ipynb").is_file():
        path = path.with_suffix(".ipynb")
    try:
        read_notebook(path)
    except NotebookError as exc:
        raise UsageError(str(exc)) from None
    project = open_project()
    task_inputs = {"path": container_path(project, path, "notebook")}
    if output is not None:
        task_inputs["output_path"] = container_path(project, output, "--output")
    options = flags.options(NOTEBOOK_TASK, task_inputs)
    mode = "json" if as_json else "quiet" if quiet else None
    sys.exit(start_and_follow(options, build_first=build_first, detach=detach, mode=mode, needs_notebook=True,
                              dashboard=with_dashboard))


def serve_notebook(cluster: str | None, open_browser: bool, port: int | None, verbose: bool,
                   share: str | None = None) -> int:
    """Run Jupyter Lab until Ctrl-C; return the exit code."""
    import secrets

    from cowait.build.features import require_notebook_support
    from cowait.cli.output import info, warning
    from cowait.cli.project import build_project, open_project
    from cowait.cli.run_cmd import trap_termination
    from cowait.errors import UsageError
    from cowait.runs.collect import collect_finished_runs
    from cowait.runs.engines import cluster_engine
    from cowait.runs.lifecycle import Run
    from cowait.runs.plan import RunOptions, plan_run
    from cowait.runs.record import RunRecord

    project = open_project()
    _, engine = cluster_engine(project, cluster)
    if share is None:  # the share streams where no bind mount reaches, unless cowait.yml turns it off
        share = "bind" if engine.local else "stream" if project.settings.fileshare.enabled else "off"
    if share == "bind" and not engine.local:
        raise UsageError("--share bind needs the local engine", hint="on a cluster use --share stream, ro or off")
    warnings: list[str] = []
    if engine.local:
        info("building the image first if the project changed")
        image = build_project(project)
    else:
        info("on a cluster the notebook runs what the pushed image holds (push it with 'cowait build --push')")
        image = engine.run_image(project, None, warnings)
    require_notebook_support(image)
    if engine.local:
        collect_finished_runs(engine)
    token = secrets.token_hex(24)
    options = RunOptions(task=SERVER_TASK, inputs={"token": token, "port": SERVER_PORT}, cluster=cluster,
                         mount=share == "bind")
    root = plan_run(project, options, engine, image, warnings)
    engine.publish(root, SERVER_PORT, port)
    for message in warnings:
        warning(message)
    file_share = None
    if share in ("stream", "ro"):
        file_share = engine.file_share(project, root, read_only=share == "ro", warn=warning)
    run = Run(root, RunRecord(project.root, root.id), engine)
    trap_termination()
    with contextlib.ExitStack() as cleanup:  # last in, first out: the port-forward, the run, the share
        try:
            if file_share is not None:
                cleanup.callback(file_share.close)
                file_share.prepare(root)
            cleanup.enter_context(run)
        except KeyboardInterrupt:
            return 130
        try:
            return _serve(run, file_share, token, port, verbose, open_browser, cleanup)
        except KeyboardInterrupt:
            pass
    info(f"stopped notebook {root.id}; its containers are removed")
    return 0


def _serve(run: Any, file_share: Any, token: str, port: int | None, verbose: bool, open_browser: bool,
           cleanup: contextlib.ExitStack) -> int:
    """Reach the started server, print its URL, and follow it until it ends (or Ctrl-C)."""
    from collections import deque

    from cowait.cli.output import error, info, result
    from cowait.cli.run_view import RunView

    root = run.root
    if file_share is not None:
        file_share.attach()
        info(file_share.description)
    base_url, close = run.engine.reach(root, SERVER_PORT, port)
    cleanup.callback(close)
    url = f"{base_url}/lab?token={token}"
    outcome: dict[str, Any] = {}
    server_log: deque[str] = deque(maxlen=LOG_TAIL)  # shown if Jupyter does not start

    def follow() -> None:
        try:
            with RunView(root.id, hide_logs_of=set() if verbose else {root.id}) as view:
                def sink(event: dict[str, Any]) -> None:
                    if event.get("type") == "log" and event.get("id") == root.id:
                        server_log.append(event.get("line", ""))
                    view(event)

                run.follow(sink)
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            outcome["error"] = exc

    follower = threading.Thread(target=follow, name="follow-notebook", daemon=True)
    follower.start()
    if not _wait_ready(base_url, token, follower):
        follower.join(5)  # the last lines of a server that exited are still arriving
        cause = f": {outcome['error']}" if "error" in outcome else ""
        if server_log and not verbose:
            info("the Jupyter server's last lines:\n" + "\n".join(f"  {line}" for line in server_log))
        error(f"Jupyter did not start{cause} (the run's record: .cowait/runs/{root.id}/)")
        return 1
    result(url)
    info("Jupyter Lab is ready (Ctrl-C stops it and every task it started)")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    while follower.is_alive():
        follower.join(0.5)
    return 1 if "error" in outcome else 0


def _wait_ready(base_url: str, token: str, follower: threading.Thread, timeout: float = 180) -> bool:
    """Poll the server's status API until it answers (or the run ended)."""
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    request = urllib.request.Request(f"{base_url}/api/status", headers={"Authorization": f"token {token}"})
    while time.monotonic() < deadline and follower.is_alive():
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.3)
    return False


@click.group()
def up() -> None:
    """Start a long-running service of the project (`cowait up notebook`)."""


up.add_command(notebook, "notebook")
