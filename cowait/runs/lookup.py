"""Find runs and tasks by id: exactly, or by a unique prefix; live ones from the engine, ended ones
from the project's records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cowait.errors import CowaitError
from cowait.runs.record import RunRecord, list_records


@dataclass
class Found:
    """A task found by id: the run it belongs to, and where to read it."""

    task_id: str
    run_id: str
    live: bool
    project_dir: str
    is_root: bool


def candidates(project_dir: Path | None, engine: Any) -> list[Found]:
    """Every task id known: tasks on the engine, then this project's records."""
    found = [Found(c.id, c.run, c.live, c.project_dir, c.root) for c in engine.list(all=True)]
    known = {f.task_id for f in found}
    if project_dir is not None:
        for record in list_records(project_dir):
            if record.run_id not in known:
                found.append(Found(record.run_id, record.run_id, False, str(project_dir), True))
                known.add(record.run_id)
            for event in record.events():
                if event.get("type") == "init" and event.get("id") not in known:
                    found.append(Found(event["id"], record.run_id, False, str(project_dir), False))
                    known.add(event["id"])
    return found


def resolve(task_id: str, project_dir: Path | None, engine: Any) -> Found:
    """The one task whose id is ``task_id``, or starts with it (on ``engine`` or in the project's
    records); a clear error otherwise."""
    everything = candidates(project_dir, engine)
    exact = [f for f in everything if f.task_id == task_id]
    if exact:
        return exact[0]
    matches = [f for f in everything if f.task_id.startswith(task_id)]
    if not matches:
        raise CowaitError(f"no task or run '{task_id}'", hint="see 'cowait ps --all'")
    if len(matches) > 1:
        shown = ", ".join(sorted(f.task_id for f in matches)[:5])
        raise CowaitError(f"'{task_id}' matches several tasks ({shown})", hint="give more of the id")
    return matches[0]


def record_of(found: Found) -> RunRecord:
    return RunRecord(found.project_dir, found.run_id)
