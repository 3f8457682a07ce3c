"""One watch of the pods a process started as subtasks, shared by every thread waiting on one.

A parent used to list and watch each child twice (until started, then until finished): four API
requests and two long-lived connections a child, which a fan-out of hundreds pays on the API server
and on its own threads. This keeps one list and one watch (label ``cowait.parent=ID``) per parent,
and keeps the latest state of the pods someone waits on, only those.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Iterator

from cowait.engine.kubernetes.podapi import PodApi
from cowait.errors import TaskGone

log = logging.getLogger("cowait.engine.kubernetes")

UNSEEN_AFTER = 5.0   # a started pod the watch has not shown by then is watched on its own
RETRY_AFTER = 1.0    # a broken watch is listed and watched again after this
WATCH_SECONDS = 300  # the server ends each watch after this (it is then resumed)


class ChildWatch:
    """The children of one pod, as one watch reports them."""

    def __init__(self, pods: PodApi, selector: str) -> None:
        self._api = pods
        self._selector = selector
        self._wanted: set[str] = set()
        self._pods: dict[str, dict[str, Any]] = {}
        self._deleted: set[str] = set()
        self._broken_since: float | None = None
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def expect(self, name: str) -> None:
        """Keep the states of pod ``name`` from now on (call before creating it)."""
        with self._changed:
            self._wanted.add(name)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pod-watch", daemon=True)
                self._thread.start()

    def forget(self, name: str) -> None:
        """Nobody waits on ``name`` any more."""
        with self._changed:
            self._wanted.discard(name)
            self._pods.pop(name, None)
            self._deleted.discard(name)

    def expects(self, name: str) -> bool:
        with self._changed:
            return name in self._wanted

    def updates(self, name: str, alone: Callable[[str], Iterator[dict]]) -> Iterator[dict]:
        """The pod's state as last seen, then each newer one; ``TaskGone`` after its deletion. When
        the shared watch has not shown the pod within UNSEEN_AFTER, or has been broken that long,
        ``alone(name)`` watches it instead (and raises what the API answers)."""
        seen = None
        deadline = time.monotonic() + UNSEEN_AFTER
        while True:
            with self._changed:
                while True:
                    pod = self._pods.get(name)
                    if pod is not None and pod is not seen:
                        break
                    if name in self._deleted:
                        raise TaskGone(f"pod {name} was deleted")
                    now = time.monotonic()
                    if (pod is None and now >= deadline) or \
                            (self._broken_since is not None and now - self._broken_since >= UNSEEN_AFTER):
                        pod = None
                        break
                    self._changed.wait(0.5)
            if pod is None:
                log.debug("pod %s: the shared watch did not show it, watching it alone", name)
                yield from alone(name)
                return
            seen = pod
            yield pod

    # --- the watch thread -----------------------------------------------------------------
    def _run(self) -> None:
        from kubernetes.client.exceptions import ApiException

        while True:
            try:
                listed, version = self._api.list(label_selector=self._selector)
                with self._changed:
                    for pod in listed:
                        self._store("MODIFIED", pod)
                    self._broken_since = None
                    self._changed.notify_all()
                while True:
                    for kind, pod in self._api.watch(version, label_selector=self._selector,
                                                     timeout_seconds=WATCH_SECONDS):
                        version = pod["metadata"].get("resourceVersion") or version
                        with self._changed:
                            self._store(kind, pod)
                            self._changed.notify_all()
            except ApiException as exc:
                if exc.status != 410:  # 410: our version is too old; list again
                    log.debug("the shared pod watch failed; listing again", exc_info=True)
                    self._pause()
            except Exception:  # noqa: BLE001 - the connection broke: list and watch again
                log.debug("the shared pod watch broke; listing again", exc_info=True)
                self._pause()

    def _pause(self) -> None:
        with self._changed:
            if self._broken_since is None:
                self._broken_since = time.monotonic()
            self._changed.notify_all()
        time.sleep(RETRY_AFTER)

    def _store(self, kind: str, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        if name not in self._wanted:
            return
        if kind == "DELETED":
            self._deleted.add(name)
        self._pods[name] = pod
