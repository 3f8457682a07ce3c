"""``cowait ps``, ``logs``, ``kill`` and ``rm``: runs started by any cowait process, attached or not."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click


def _project_dir():
    from cowait.config import find_project_file

    found = find_project_file()
    return found.parent if found else None


def _age(ts: float | None) -> str:
    if not ts:
        return ""
    seconds = max(0, time.time() - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


@click.command()
@click.option("-a", "--all", "show_all", is_flag=True, help="Also show ended runs of this project.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ps(show_all: bool, as_json: bool) -> None:
    """List running tasks (with --all, ended runs of this project too)."""
    from cowait.engine.docker.tasks import DockerTaskEngine
    from cowait.runs.docker_run import collect_finished_runs
    from cowait.runs.record import list_records

    collect_finished_runs()
    rows: list[dict[str, Any]] = []
    for c in DockerTaskEngine().list(all=True):
        rows.append({"id": c.id, "name": c.name, "status": c.status, "parent": c.parent or "", "run": c.run,
                     "created": float(c.created) if c.created else None})
    project = _project_dir()
    if show_all and project is not None:
        live = {r["run"] for r in rows}
        for record in reversed(list_records(project)):
            summary = record.summary()
            if summary is None or record.run_id in live:
                continue
            rows.append({"id": record.run_id, "name": summary.get("task", ""), "status": summary.get("status", ""),
                         "parent": "", "run": record.run_id, "created": summary.get("started")})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    header = ("TASK ID", "NAME", "STATUS", "PARENT", "RUN", "CREATED")
    table = [header] + [(r["id"], r["name"], r["status"], r["parent"], r["run"], _age(r["created"])) for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("   ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


@click.command()
@click.argument("task_id")
@click.option("-f", "--follow", is_flag=True, help="Follow a running task until it ends.")
@click.option("--json", "--raw", "as_json", is_flag=True, help="Print events as JSON lines.")
def logs(task_id: str, follow: bool, as_json: bool) -> None:
    """Show the log of a run or task (exact id or unique prefix), live or ended."""
    from cowait.cli.output import error, result, to_json
    from cowait.cli.run_view import RunView
    from cowait.engine.docker.tasks import DockerTaskEngine
    from cowait.runs.docker_run import collect_finished_runs
    from cowait.runs.lookup import record_of, resolve
    from cowait.runs.state import normalize

    collect_finished_runs()
    found = resolve(task_id, _project_dir())
    mode = "json" if as_json else "plain"
    only = None if found.is_root else found.task_id

    def show(event: dict[str, Any]) -> None:
        if only is None or event.get("id") == only:
            view(event)

    with RunView(found.run_id, mode) as view:
        if found.live:
            engine = DockerTaskEngine()
            lines = engine.follow(found.run_id) if follow else engine.read(found.run_id)
            for line in lines:
                for event in normalize(found.run_id, line):
                    show(event)
        else:
            for event in record_of(found).events():
                show(event)
    if found.live and follow:
        DockerTaskEngine().wait(found.run_id)
        collect_finished_runs()
    if not as_json:
        task = view.state.tasks.get(found.task_id)
        if task is not None and task.status == "done":
            from cowait.runtime.types import decode

            result(to_json(decode(task.result)))
        elif task is not None and task.status == "fail" and task.error:
            error(f"{found.task_id} failed: {task.error.get('message', '')}")


@click.command()
@click.argument("task_ids", nargs=-1)
@click.option("-a", "--all", "kill_all", is_flag=True, help="Kill every running cowait task on this engine.")
def kill(task_ids: tuple[str, ...], kill_all: bool) -> None:
    """Stop runs or tasks (exact id or unique prefix) and remove their containers."""
    from cowait.cli.output import result
    from cowait.engine.docker.tasks import DockerTaskEngine
    from cowait.errors import UsageError
    from cowait.runs.docker_run import remove_run
    from cowait.runs.lookup import record_of, resolve

    if not task_ids and not kill_all:
        raise UsageError("name the tasks to kill, or use --all")
    engine = DockerTaskEngine()
    if kill_all:
        runs = sorted({c.run for c in engine.list(all=True)})
        for run_id in runs:
            remove_run(run_id)
            result(f"killed {run_id}")
        return
    project = _project_dir()
    targets = [resolve(task_id, project) for task_id in task_ids]
    for found in targets:
        if not found.live:
            raise UsageError(f"{found.task_id} is not running")
    for found in targets:
        if found.is_root:
            remove_run(found.run_id)
            record = record_of(found)
            summary = record.summary()
            if summary is not None and summary.get("status") == "running":
                record.write_summary({**summary, "status": "stop", "ended": time.time()})
        else:
            engine.kill([found.task_id])
        result(f"killed {found.task_id}")


@click.command()
@click.argument("task_ids", nargs=-1)
@click.option("-a", "--all", "remove_all", is_flag=True, help="Remove every ended run of this project.")
def rm(task_ids: tuple[str, ...], remove_all: bool) -> None:
    """Remove the records of ended runs (and any containers they left)."""
    import shutil

    from cowait.cli.output import result
    from cowait.errors import UsageError
    from cowait.runs.docker_run import collect_finished_runs
    from cowait.runs.lookup import record_of, resolve
    from cowait.runs.record import list_records

    if not task_ids and not remove_all:
        raise UsageError("name the runs to remove, or use --all")
    collect_finished_runs()
    project = _project_dir()
    if remove_all:
        if project is None:
            raise UsageError("no cowait.yml here: --all removes the runs of the current project")
        records = [r for r in list_records(project) if (r.summary() or {}).get("status") != "running"]
    else:
        records = []
        for task_id in task_ids:
            found = resolve(task_id, project)
            if found.live:
                raise UsageError(f"{found.task_id} is running; stop it first with 'cowait kill {found.task_id}'")
            if not found.is_root:
                raise UsageError(f"{found.task_id} is a subtask; remove its run {found.run_id}")
            records.append(record_of(found))
    for record in records:
        shutil.rmtree(record.dir, ignore_errors=True)
        result(f"removed {record.run_id}")
    sys.stdout.flush()
