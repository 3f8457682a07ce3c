"""What the dashboard shows, read from where the CLI reads it: the project's records in
``.cowait/runs/`` and each cluster's engine through the engine interface (runs started by any
``cowait`` process, attached or detached). An engine that is down or does not answer leaves the
records; the page says which engine and why.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cowait.config import Project
from cowait.dashboard.feeds import Feed, Feeds
from cowait.runs.record import RunRecord, list_records

log = logging.getLogger("cowait.dashboard")

#: what an id in a URL may hold (task ids are generated: names, digits, dashes)
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")
ENGINE_TIMEOUT = 5.0  # seconds an engine may take to list its tasks before the page says it hangs


@dataclass
class EngineState:
    """One cluster as the dashboard last saw it."""

    name: str
    ok: bool | None = None  # None: not asked yet
    message: str = ""
    tasks: list[Any] = field(default_factory=list)  # TaskInfo of this project's tasks
    pending: Future | None = None


class Sources:
    """The runs of one project, refreshed in a thread of their own; ``version`` grows on a change."""

    def __init__(self, project: Project, interval: float = 1.0) -> None:
        self.project = project
        self.interval = interval
        self.feeds = Feeds()
        self.version = 0
        self._snapshot: dict[str, Any] = {"runs": [], "engines": [], "project": str(project.root)}
        self._engines = {name: EngineState(name) for name in self._cluster_names()}
        self._pool = ThreadPoolExecutor(max_workers=max(2, len(self._engines)), thread_name_prefix="dashboard-engine")
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()

    # --- the refresh thread --------------------------------------------------------------------
    def start(self) -> None:
        self.refresh()
        threading.Thread(target=self._loop, name="dashboard-refresh", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the next round tries again; --debug shows why
                log.debug("refreshing the runs failed", exc_info=True)

    def refresh(self) -> None:
        """Ask every engine (at once, each within ENGINE_TIMEOUT) and read the records."""
        with self._refreshing:
            self._refresh()

    def _refresh(self) -> None:
        for state in self._engines.values():
            if state.pending is None:
                state.pending = self._pool.submit(self._list, state.name)
        deadline = time.monotonic() + ENGINE_TIMEOUT
        for state in self._engines.values():
            try:
                state.tasks = state.pending.result(timeout=max(0.0, deadline - time.monotonic()))
                state.ok, state.message = True, ""
            except TimeoutError:
                state.ok, state.message = False, f"did not answer in {ENGINE_TIMEOUT:.0f} s"
                continue  # still asked: the answer is taken in a later round
            except Exception as exc:  # noqa: BLE001 - an engine down is shown, not raised
                state.ok, state.message, state.tasks = False, _first_line(exc), []
            state.pending = None
        snapshot = {"project": str(self.project.root), "engines": [self._engine_row(s) for s in self._engines.values()],
                    "runs": self._runs()}
        with self._lock:
            if snapshot != self._snapshot:
                self._snapshot = snapshot
                self.version += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self._snapshot

    # --- engines -------------------------------------------------------------------------------
    def _cluster_names(self) -> list[str]:
        """The local engine, the default cluster and every cluster the configuration names."""
        names = ["docker", self.project.settings.default_cluster, *self.project.settings.clusters]
        return list(dict.fromkeys(names))

    def engine(self, name: str) -> Any:
        from cowait.runs.engines import cluster_engine

        return cluster_engine(self.project, name)[1]

    def _list(self, name: str) -> list[Any]:
        tasks = self.engine(name).list(all=True)
        if self.project.file is None:
            return tasks
        return [t for t in tasks if t.project_dir == str(self.project.root)]

    def _engine_row(self, state: EngineState) -> dict[str, Any]:
        return {"name": state.name, "ok": state.ok, "message": state.message}

    def engine_of(self, run_id: str) -> tuple[str, Any] | None:
        """(cluster name, TaskInfo of the root) of a run still on an engine."""
        for state in self._engines.values():
            for task in state.tasks:
                if task.root and task.run == run_id:
                    return state.name, task
        return None

    # --- runs ----------------------------------------------------------------------------------
    def _runs(self) -> list[dict[str, Any]]:
        runs: dict[str, dict[str, Any]] = {}
        if self.project.file is not None:
            for record in list_records(self.project.root):
                summary = record.summary()
                if summary is None:
                    continue
                runs[record.run_id] = {
                    "id": record.run_id, "task": summary.get("task", ""), "status": summary.get("status", ""),
                    "engine": summary.get("engine", ""), "started": summary.get("started"),
                    "ended": summary.get("ended"), "live": False, "recorded": True,
                    "error": (summary.get("error") or {}).get("message"),
                }
        for state in self._engines.values():
            for task in state.tasks:
                if not task.root:
                    continue
                row = runs.get(task.run)
                final = row is not None and row["status"] in ("done", "fail", "stop")
                runs[task.run] = {
                    **(row or {"id": task.run, "task": task.name, "started": task.created, "ended": None,
                               "recorded": False, "error": None}),
                    "status": row["status"] if final and not task.live else task.status,
                    "engine": state.name, "live": task.live,
                }
        return sorted(runs.values(), key=lambda r: r.get("started") or 0, reverse=True)

    def record(self, run_id: str) -> RunRecord | None:
        if self.project.file is None or not SAFE_ID.match(run_id):
            return None
        record = RunRecord(self.project.root, run_id)
        return record if record.exists() else None

    def feed(self, run_id: str) -> Feed | None:
        """The run's events: followed from its engine while it is there, else from its record."""
        if not SAFE_ID.match(run_id):
            return None
        record = self.record(run_id)
        ended = record is not None and (record.summary() or {}).get("status") in ("done", "fail", "stop")
        found = self.engine_of(run_id)
        if found is None and not ended:  # started since the last look (its record says it runs)?
            self.refresh()
            found = self.engine_of(run_id)
        if found is not None and not (ended and not found[1].live):
            engine = self.engine(found[0])
            feed = self.feeds.live(run_id, lambda: engine.follow(run_id))
            if not (feed.done and feed.error):
                return feed
        return self.recorded(run_id)

    def recorded(self, run_id: str) -> Feed | None:
        """The run's events as its record holds them (a live feed that failed falls back to this)."""
        self.feeds.forget(run_id)
        record = self.record(run_id)
        return Feed.recorded(run_id, record.events()) if record is not None else None

    def notebook(self, run_id: str, task_id: str) -> bytes | None:
        """The executed notebook of a task: in the run's record, or travelling in its live stream."""
        if not (SAFE_ID.match(run_id) and SAFE_ID.match(task_id)):
            return None
        suffix = f"-{task_id}.ipynb"
        record = self.record(run_id)
        if record is not None:
            for path in sorted(record.dir.glob(f"*{suffix}")):
                return path.read_bytes()
        feed = self.feeds.existing(run_id)
        if feed is not None:
            for name, data in feed.files.items():
                if name.endswith(suffix):
                    return data
        return None

    def kill(self, run_id: str, task_id: str) -> str:
        """Stop a live run (``task_id == run_id``) or one of its subtasks; what happened, in words."""
        from cowait.runs.control import stop
        from cowait.runs.lookup import Found

        found = self.engine_of(run_id) if SAFE_ID.match(run_id) and SAFE_ID.match(task_id) else None
        if found is None or not found[1].live:
            return f"{run_id} is not running"
        stop(self.engine(found[0]), Found(task_id, run_id, True, str(self.project.root), task_id == run_id))
        self.refresh()
        return f"killed {task_id}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
