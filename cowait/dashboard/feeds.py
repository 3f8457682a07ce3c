"""A run's events for the dashboard's viewers: a live run's stream is followed once, by one thread,
whoever watches it; an ended run's events come from its record."""

from __future__ import annotations

import base64
import gzip
import logging
import threading
from typing import Any, Callable, Iterable, Iterator

from cowait.runs.state import normalize

log = logging.getLogger("cowait.dashboard")


class Feed:
    """The events of one run so far, growing while its stream is followed.

    Viewers read ``events[cursor:]``; the list only grows. Files that travel in the stream (an
    executed notebook of a cluster run) are kept by name in ``files``, out of the events.
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.events: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.done = False
        self.error: str | None = None

    def add(self, event: dict[str, Any]) -> None:
        if event.get("type") == "artifact" and "data" in event:
            name = str(event.get("file") or "")
            try:
                self.files[name] = gzip.decompress(base64.b64decode(event["data"]))
            except (ValueError, OSError):
                log.debug("unreadable file %s in the stream of %s", name, self.run_id, exc_info=True)
            event = {k: v for k, v in event.items() if k != "data"}
        self.events.append(event)

    @classmethod
    def recorded(cls, run_id: str, events: Iterable[dict[str, Any]]) -> "Feed":
        """A finished feed of events read from a record."""
        feed = cls(run_id)
        for event in events:
            feed.add(event)
        feed.done = True
        return feed

    def follow(self, lines: Callable[[], Iterator[str]]) -> "Feed":
        """Follow the root's stream in a thread of its own until it ends."""

        def pump() -> None:
            try:
                for line in lines():
                    for event in normalize(self.run_id, line):
                        self.add(event)
            except Exception as exc:  # noqa: BLE001 - shown to the viewer, not raised in a thread
                log.debug("following %s stopped", self.run_id, exc_info=True)
                self.error = str(exc) or type(exc).__name__
            finally:
                self.done = True

        threading.Thread(target=pump, name=f"dashboard-follow-{self.run_id}", daemon=True).start()
        return self


class Feeds:
    """The live feeds, one per run; a finished one is dropped once its run has a record."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[str, Feed] = {}

    def live(self, run_id: str, lines: Callable[[], Iterator[str]]) -> Feed:
        """The feed following ``run_id``'s stream, started if nobody follows it yet."""
        with self._lock:
            feed = self._live.get(run_id)
            if feed is None or (feed.done and feed.error):
                feed = self._live[run_id] = Feed(run_id).follow(lines)
            return feed

    def existing(self, run_id: str) -> Feed | None:
        with self._lock:
            return self._live.get(run_id)

    def forget(self, run_id: str) -> None:
        with self._lock:
            feed = self._live.get(run_id)
            if feed is not None and feed.done:
                del self._live[run_id]
