"""``cowait notebook`` (Jupyter Lab in the project image) and ``cowait notebook run`` (headless)."""

from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path
from typing import Any

import click

from cowait.cli.run_cmd import cli_run_options, read_inputs, run_options

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
def run_notebook(path: Path, inputs, input_file, env, cluster, image, cpu, cpu_limit, memory, memory_limit,
                 build_first: bool, detach: bool, quiet: bool, as_json: bool, output: Path | None) -> None:
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
    task_inputs = {**read_inputs(input_file, inputs), "path": container_path(project, path, "notebook")}
    if output is not None:
        task_inputs["output_path"] = container_path(project, output, "--output")
    options = cli_run_options(NOTEBOOK_TASK, task_inputs, env, cluster, image, cpu, cpu_limit, memory, memory_limit)
    mode = "json" if as_json else "quiet" if quiet else None
    sys.exit(start_and_follow(options, build_first=build_first, detach=detach, mode=mode, needs_notebook=True))


def serve_notebook(cluster: str | None, open_browser: bool, port: int | None, verbose: bool,
                   share: str | None = None) -> int:
    """Run Jupyter Lab until Ctrl-C; return the exit code."""
    import secrets

    from cowait.build.builder import BuildOptions, build_image
    from cowait.build.features import require_notebook_support
    from cowait.cli.output import info, warning
    from cowait.cli.progress import BuildView
    from cowait.cli.project import open_project
    from cowait.errors import UsageError
    from cowait.runs.collect import collect_finished_runs
    from cowait.runs.docker_run import DockerRun
    from cowait.runs.plan import RunOptions, plan_docker_run
    from cowait.runs.record import RunRecord

    project = open_project()
    cluster_name, cluster_config = project.cluster(cluster)
    if cluster_config.type not in ("docker", "kubernetes"):
        raise UsageError(f"cluster '{cluster_name}' is of type {cluster_config.type}, which cannot run notebooks")
    on_cluster = cluster_config.type == "kubernetes"
    if share is None:  # on clusters the share is on unless cowait.yml turns it off (fileshare.enabled)
        share = ("stream" if project.settings.fileshare.enabled else "off") if on_cluster else "bind"
    if on_cluster and share == "bind":
        raise UsageError("--share bind needs the local engine", hint="on a cluster use --share stream, ro or off")
    token = secrets.token_hex(24)
    file_share: Any = None
    options = RunOptions(task=SERVER_TASK, inputs={"token": token, "port": SERVER_PORT}, cluster=cluster,
                         mount=share == "bind")
    warnings: list[str] = []
    host_port: int | None = None
    if cluster_config.type == "kubernetes":
        from cowait.runs.kubernetes_run import KubernetesRun, plan_kubernetes_run, resolve_pushed_image

        info("on a cluster the notebook runs what the pushed image holds (push it with 'cowait build --push')")
        image = resolve_pushed_image(project, None)
        require_notebook_support(image)
        root = plan_kubernetes_run(project, options, cluster_config, image)
        root.engine_options["ports"] = [{"container_port": SERVER_PORT}]
        run = KubernetesRun(root, RunRecord(project.root, root.id))
        if share in ("stream", "ro"):
            from cowait.fileshare.cluster import ClusterShare, pod_option

            root.engine_options["fileshare"] = pod_option(read_only=share == "ro")
            file_share = ClusterShare(project.root, run.engine, root.run, read_only=share == "ro",
                                      exclude=project.settings.fileshare.exclude, warn=warning)
    else:
        info("building the image first if the project changed")
        with BuildView(quiet=not sys.stderr.isatty()) as view:  # in logs, one line is enough
            built = build_image(project, BuildOptions(), view)
            view.finish()
        info(f"image {built.ref} {'is up to date' if built.cached else 'built'}")
        require_notebook_support(built.ref)
        collect_finished_runs()
        host_port = port or _free_port()
        root = plan_docker_run(project, options, built.ref, warnings)
        root.engine_options["ports"] = [{"host_ip": "127.0.0.1", "host_port": host_port,
                                         "container_port": SERVER_PORT}]
        if share in ("stream", "ro"):
            from cowait.fileshare.local import LocalShare

            file_share = LocalShare(project.root, root.run, built.ref, str(project.root), read_only=share == "ro",
                                    exclude=project.settings.fileshare.exclude)
            file_share.start()
            root.volumes.insert(0, file_share.volume)
            info(f"project folder streamed through the file share ({'read-only' if share == 'ro' else 'read-write'})")
        run = DockerRun(root, RunRecord(project.root, root.id))
    for message in warnings:
        warning(message)
    from cowait.cli.run_cmd import trap_termination

    trap_termination()
    with contextlib.ExitStack() as cleanup:  # last in, first out: the port-forward, the run, the share
        if file_share is not None:
            cleanup.callback(file_share.close)
        try:
            cleanup.enter_context(run)
        except KeyboardInterrupt:
            return 130
        try:
            return _serve(run, root, on_cluster, file_share, share, cluster_config, token, port,
                          host_port, verbose, open_browser, cleanup)
        except KeyboardInterrupt:
            pass
    info(f"stopped notebook {root.id}; its containers are removed")
    return 0


def _serve(run: Any, root: Any, on_cluster: bool, file_share: Any, share: str, cluster_config: Any, token: str,
           port: int | None, host_port: int | None, verbose: bool, open_browser: bool,
           cleanup: contextlib.ExitStack) -> int:
    """Reach the started server, print its URL, and follow it until it ends (or Ctrl-C)."""
    from collections import deque

    from cowait.cli.output import error, info, result
    from cowait.cli.run_view import RunView

    if on_cluster:
        if file_share is not None:
            file_share.start(run.engine.wait_started(root.id))
            info(f"project folder streamed into the pod ({'read-only' if share == 'ro' else 'read-write'})")
        url, forward = _cluster_url(run, cluster_config, token, port)
        if forward is not None:
            cleanup.callback(forward.close)
    else:
        url = f"http://127.0.0.1:{host_port}/lab?token={token}"
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
    if not _wait_ready(url.split("/lab?")[0], token, follower):
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


def _cluster_url(run: Any, cluster: Any, token: str, port: int | None) -> tuple[str, Any]:
    """The notebook's URL on a cluster: through the router's ingress when a domain is set, else a
    local port-forward that this process holds."""
    engine = run.engine
    pod = engine.wait_started(run.root.id)
    if cluster.router in ("ingress", "traefik2") and cluster.domain:
        import yaml

        from cowait.engine.kubernetes.manifests import router_yaml

        engine.create_objects([yaml.safe_load(t) for t in router_yaml(run.root, pod.metadata.uid, SERVER_PORT)])
        scheme = "https" if cluster.router == "traefik2" and cluster.traefik2.certresolver else "http"
        return f"{scheme}://{run.root.id}.{cluster.domain}/lab?token={token}", None
    from cowait.engine.kubernetes.portforward import PortForward

    forward = PortForward(engine.stream_api, engine.namespace, run.root.id, SERVER_PORT, port or 0).__enter__()
    return f"http://127.0.0.1:{forward.local_port}/lab?token={token}", forward


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
