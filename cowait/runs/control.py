"""Stopping a run or one of its tasks, for ``cowait kill`` and the dashboard alike."""

from __future__ import annotations

import time
from typing import Any

from cowait.runs.lookup import Found, record_of


def stop(engine: Any, found: Found) -> None:
    """Stop a live task: a run's root takes everything of the run with it (and its record says
    ``stop``); a subtask goes with its own subtree."""
    if not found.is_root:
        engine.kill([found.task_id])
        return
    engine.remove_run(found.run_id)
    record = record_of(found)
    summary = record.summary()
    if summary is not None and summary.get("status") == "running":
        record.write_summary({**summary, "status": "stop", "ended": time.time()})
