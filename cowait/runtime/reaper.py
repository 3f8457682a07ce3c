"""Removing ended subtasks in batches, once a burst of starts is over.

Removing a container (or deleting a pod) makes the engine work as hard as starting one. Removed
one by one as each subtask ends, the first results of a fan-out make the engine tear down while
the rest are still starting, and every start waits behind that work. So the ended subtasks wait in
a queue. One thread removes them once no subtask has been starting (asked for, and not running
yet) for ``QUIET`` seconds, when ``BATCH`` of them are waiting, or when the node stops (``flush``,
which removes what is left before the task ends). A run's removal at its end still sweeps
whatever a killed process left behind.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

log = logging.getLogger("cowait.runtime")

QUIET = 1.0  # seconds with no subtask starting after which the ended subtasks are removed
BATCH = 64  # this many waiting are removed even while starts go on
WORKERS = 8  # removals at once when the node stops (its thread removes one at a time)


class Reaper:
    """Removes ended subtasks through ``remove(task_id, subtree)``, in batches (see the module)."""

    def __init__(self, remove: Callable[[str, bool], None], quiet: float = QUIET, batch: int = BATCH) -> None:
        self._remove = remove
        self.quiet = quiet
        self.batch = batch
        self._waiting: list[tuple[str, bool]] = []
        self._changed = threading.Condition()
        self._last_start = 0.0
        self._starting = 0  # subtasks asked for and not running yet
        self._busy = 0  # removals taken from the queue and not finished yet
        self._thread: threading.Thread | None = None

    def starting(self) -> None:
        """A subtask is being started: removals wait until it runs (``started``)."""
        with self._changed:
            self._starting += 1

    def started(self) -> None:
        """A subtask asked for with ``starting`` runs now (or failed to start)."""
        with self._changed:
            self._starting = max(0, self._starting - 1)
            self._last_start = time.monotonic()
            self._changed.notify_all()

    def add(self, task_id: str, subtree: bool) -> None:
        """Queue an ended subtask for removal (with its subtree unless it removed that itself)."""
        with self._changed:
            self._waiting.append((task_id, subtree))
            self._changed.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="reap-subtasks", daemon=True)
                self._thread.start()

    def flush(self, timeout: float = 60) -> None:
        """Remove every queued subtask now; return when they are gone (or ``timeout`` passed)."""
        with self._changed:
            batch, self._waiting = self._waiting, []
            self._busy += len(batch)
        self._remove_all(batch, workers=WORKERS)
        deadline = time.monotonic() + timeout
        with self._changed:  # removals the thread had already taken
            while self._busy and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())

    def _run(self) -> None:
        while True:
            with self._changed:
                while True:
                    if self._waiting:
                        calm = 0.0 if self._starting else time.monotonic() - self._last_start
                        if calm >= self.quiet or len(self._waiting) >= self.batch:
                            break
                        self._changed.wait(self.quiet - calm)
                    else:
                        self._changed.wait()
                batch, self._waiting = self._waiting, []
                self._busy += len(batch)
            self._remove_all(batch, workers=1)  # no more threads while the run goes on

    def _remove_all(self, batch: list[tuple[str, bool]], workers: int) -> None:
        if not batch:
            return
        try:
            if len(batch) == 1 or workers == 1:
                for item in batch:
                    self._remove_one(item)
            else:
                with ThreadPoolExecutor(max_workers=min(workers, len(batch))) as pool:
                    list(pool.map(self._remove_one, batch))
        finally:
            with self._changed:
                self._busy -= len(batch)
                self._changed.notify_all()

    def _remove_one(self, item: tuple[str, bool]) -> None:
        task_id, subtree = item
        try:
            self._remove(task_id, subtree)
        except Exception:  # noqa: BLE001 - the run's removal sweeps what is left
            log.debug("could not remove subtask %s", task_id, exc_info=True)
