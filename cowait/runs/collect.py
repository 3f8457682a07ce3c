"""Runs whose root ended while no ``cowait`` followed it (detached, or the CLI was killed), on any
engine: their record is rebuilt from the root's stream, then their containers or pods are removed."""

from __future__ import annotations

import time
from typing import Any

from cowait.runs.record import RunRecord
from cowait.runs.state import RunState, normalize
from cowait.runtime.types import decode


def collect_finished_runs(engine: Any, project_dir: str | None = None) -> list[str]:
    """Record and remove runs whose root has stopped while no ``cowait`` followed it (detached,
    or the CLI was killed), on ``engine``, of one project if given. Returns their ids."""
    collected = []
    for task in engine.list(all=True):
        if not task.root or task.live or (project_dir is not None and task.project_dir != project_dir):
            continue
        collected.append(task.run)
        if task.project_dir:
            record = RunRecord(task.project_dir, task.run)
            summary = record.summary() or {}
            if summary.get("status") in (None, "running"):
                try:
                    record.create()
                    record_from_logs(engine, task.id, record, summary)
                except OSError:
                    pass  # the project folder is gone or read-only: nothing to keep the record in
        engine.remove_run(task.run)
    return collected


def record_from_logs(engine: Any, root_id: str, record: RunRecord, summary: dict[str, Any]) -> None:
    """Rebuild a run's record from its root container's stream."""
    state = RunState(root_id)
    events_path = record.dir / "events.jsonl"
    if events_path.exists():
        events_path.unlink()
    for line in engine.read(root_id):
        for event in normalize(root_id, line):
            state.apply(record.append_event(event))
    root = state.root
    code, _ = engine.wait(root_id)
    status = root.status if root.status in ("done", "fail") else "fail"
    record.write_summary({**summary, "id": root_id, "task": root.name or summary.get("task"), "status": status,
                          "ended": root.ended or time.time(), "result": decode(root.result),
                          "error": root.error, "exit_code": code})
    record.close()
