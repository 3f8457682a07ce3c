"""``cowait ps``, ``logs``, ``kill`` and ``rm``: runs started by any cowait process, attached or
not, on the local engine or a cluster (``-c``), found from the engine's labels and the records."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import click

log = logging.getLogger("cowait.cli")

cluster_option = click.option("-c", "--cluster", help="Cluster to look at (default: default_cluster).")


def _age(ts: float | None) -> str:
    if not ts:
        return ""
    seconds = max(0, time.time() - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def _context(cluster: str | None) -> tuple[Any, Any, str]:
    """(project, engine, cluster name); ended runs nobody followed are recorded and removed first."""
    from cowait.cli.project import open_project
    from cowait.runs.collect import collect_finished_runs
    from cowait.runs.engines import cluster_engine

    project = open_project()
    name, engine = cluster_engine(project, cluster)
    # on a shared cluster only this project's runs are ours to collect; locally, any project's
    if project.file is not None or engine.local:
        collect_finished_runs(engine, None if engine.local else str(project.root))
    return project, engine, name


def _in_project(project: Any, task: Any) -> bool:
    return project.file is not None and task.project_dir == str(project.root)


@click.command()
@cluster_option
@click.option("-a", "--all", "show_all", is_flag=True, help="Also show ended runs of this project.")
@click.option("-A", "--all-projects", is_flag=True, help="Show the tasks of every project on the engine.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("-q", "--quiet", is_flag=True, help="Print only task ids.")
def ps(cluster: str | None, show_all: bool, all_projects: bool, as_json: bool, quiet: bool) -> None:
    """List running tasks of this project (with --all, its ended runs too)."""
    from cowait.runs.record import list_records

    project, engine, name = _context(cluster)
    scoped = project.file is not None and not all_projects
    rows: list[dict[str, Any]] = []
    for task in engine.list(all=True):
        if scoped and not _in_project(project, task):
            continue
        rows.append({"id": task.id, "name": task.name, "status": task.status, "parent": task.parent,
                     "run": task.run, "created": task.created, "cluster": name, "project": task.project_dir})
    rows.extend(_queued_rows(engine, rows, name))
    if show_all and project.file is not None:
        live = {r["run"] for r in rows}
        for record in reversed(list_records(project.root)):
            summary = record.summary()
            if summary is None or record.run_id in live:
                continue
            rows.append({"id": record.run_id, "name": summary.get("task", ""), "status": summary.get("status", ""),
                         "parent": "", "run": record.run_id, "created": summary.get("started"),
                         "cluster": summary.get("cluster") or summary.get("engine", ""),
                         "project": str(project.root)})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif quiet:
        for row in rows:
            click.echo(row["id"])
    else:
        _table(rows, with_project=not scoped)


def _queued_rows(engine: Any, rows: list[dict[str, Any]], cluster: str) -> list[dict[str, Any]]:
    """Subtasks waiting for a slot have no container or pod yet: their live run's stream tells them."""
    from cowait.runs.state import replay

    shown = {r["id"] for r in rows}
    queued = []
    for root in [r for r in rows if r["id"] == r["run"] and r["status"] in ("pending", "running")]:
        try:
            state = replay(root["id"], engine.read(root["id"]))
        except Exception:  # noqa: BLE001 - the run ended meanwhile: nothing of it is queued
            log.debug("could not read the stream of %s", root["id"], exc_info=True)
            continue
        for task in state.tasks.values():
            if task.status == "queued" and task.id not in shown:
                queued.append({"id": task.id, "name": task.name, "status": "queued", "parent": task.parent or "",
                               "run": root["id"], "created": task.started, "cluster": cluster,
                               "project": root["project"]})
    return queued


def _table(rows: list[dict[str, Any]], with_project: bool) -> None:
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    columns = ["TASK ID", "NAME", "STATUS", "PARENT", "RUN", "CLUSTER", "CREATED"] + (["PROJECT"] if with_project else [])
    for column in columns:
        table.add_column(column, no_wrap=True)
    for r in rows:
        cells = [r["id"], r["name"], r["status"], r["parent"], r["run"], r["cluster"], _age(r["created"])]
        table.add_row(*cells, *([r["project"]] if with_project else []))
    # ids are never cut short (they are what the other commands take): like `docker ps`, a row
    # longer than the terminal wraps, and in a pipe it stays whole
    console = Console()
    needed = Measurement.get(console, console.options.update(width=100_000), table).maximum
    Console(width=max(needed, console.width if console.is_terminal else 0)).print(table)


@click.command()
@click.argument("task_id")
@cluster_option
@click.option("-f", "--follow", is_flag=True, help="Follow a running task until it ends.")
@click.option("--json", "--raw", "as_json", is_flag=True, help="Print events as JSON lines.")
def logs(task_id: str, cluster: str | None, follow: bool, as_json: bool) -> None:
    """Show the log of a run or task (exact id or unique prefix), live or ended."""
    from cowait.cli.output import error, result, to_json
    from cowait.cli.run_view import RunView
    from cowait.runs.collect import collect_finished_runs
    from cowait.runs.lookup import record_of, resolve
    from cowait.runs.state import normalize

    project, engine, _ = _context(cluster)
    found = resolve(task_id, project.root if project.file else None, engine)
    mode = "json" if as_json else "plain"
    only = None if found.is_root else found.task_id

    def show(event: dict[str, Any]) -> None:
        if only is None or event.get("id") == only:
            view(event)

    with RunView(found.run_id, mode) as view:
        if found.live:
            lines = engine.follow(found.run_id) if follow else engine.read(found.run_id)
            for line in lines:
                for event in normalize(found.run_id, line):
                    show(event)
        else:
            for event in record_of(found).events():
                show(event)
    if found.live and follow:
        engine.wait(found.run_id)
        collect_finished_runs(engine, found.project_dir or None)
    if not as_json:
        task = view.state.tasks.get(found.task_id)
        if task is not None and task.status == "done":
            from cowait.runtime.types import decode

            result(to_json(decode(task.result)))
        elif task is not None and task.status == "fail" and task.error:
            error(f"{found.task_id} failed: {task.error.get('message', '')}")


@click.command()
@click.argument("task_ids", nargs=-1)
@cluster_option
@click.option("-a", "--all", "kill_all", is_flag=True, help="Kill every running task of this project.")
@click.option("-A", "--all-projects", is_flag=True, help="Kill every running cowait task on the engine, of any project.")
def kill(task_ids: tuple[str, ...], cluster: str | None, kill_all: bool, all_projects: bool) -> None:
    """Stop runs or tasks (exact id or unique prefix) and remove their containers or pods."""
    from cowait.cli.output import result
    from cowait.errors import UsageError
    from cowait.runs.control import stop
    from cowait.runs.lookup import resolve

    if not task_ids and not (kill_all or all_projects):
        raise UsageError("name the tasks to kill, or use --all (this project's)")
    project, engine, name = _context(cluster)
    if kill_all or all_projects:
        if not all_projects and project.file is None:
            raise UsageError("no cowait.yml here: --all kills the runs of the current project",
                             hint="run it in the project, or use --all-projects for every project on the engine")
        runs = sorted({t.run for t in engine.list(all=True) if t.live and (all_projects or _in_project(project, t))})
        for run_id in runs:
            engine.remove_run(run_id)
            result(f"killed {run_id}")
        if not runs:
            result(f"nothing is running on {name}" + ("" if all_projects else " for this project"))
        return
    targets = [resolve(task_id, project.root if project.file else None, engine) for task_id in task_ids]
    for found in targets:
        if not found.live:
            raise UsageError(f"{found.task_id} is not running on {name}",
                             hint="see 'cowait ps' (and -c CLUSTER for another cluster)")
    for found in targets:
        stop(engine, found)
        result(f"killed {found.task_id}")


@click.command()
@click.argument("task_ids", nargs=-1)
@cluster_option
@click.option("-a", "--all", "remove_all", is_flag=True, help="Remove every ended run of this project.")
def rm(task_ids: tuple[str, ...], cluster: str | None, remove_all: bool) -> None:
    """Remove the records of ended runs (and any containers or pods they left)."""
    import shutil

    from cowait.cli.output import result
    from cowait.errors import UsageError
    from cowait.runs.lookup import record_of, resolve
    from cowait.runs.record import list_records

    if not task_ids and not remove_all:
        raise UsageError("name the runs to remove, or use --all")
    project, engine, _ = _context(cluster)
    if remove_all:
        if project.file is None:
            raise UsageError("no cowait.yml here: --all removes the runs of the current project")
        records = [r for r in list_records(project.root) if (r.summary() or {}).get("status") != "running"]
    else:
        records = []
        for task_id in task_ids:
            found = resolve(task_id, project.root if project.file else None, engine)
            if found.live:
                raise UsageError(f"{found.task_id} is running; stop it first with 'cowait kill {found.task_id}'")
            if not found.is_root:
                raise UsageError(f"{found.task_id} is a subtask; remove its run {found.run_id}")
            records.append(record_of(found))
    for record in records:
        shutil.rmtree(record.dir, ignore_errors=True)
        result(f"removed {record.run_id}")
    sys.stdout.flush()
