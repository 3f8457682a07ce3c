"""The file share on a cluster: the caller's ``cowait`` serves its folder to every pod of its run
that carries the share's sidecar, each over a Kubernetes exec websocket into that sidecar.

Pods are found by a watch on the run's label and served only once their owner references lead to
the run's root pod, which this process created: a pod of another session that copies our labels is
never served. No inbound connection reaches the caller.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from cowait.engine import labels as L
from cowait.fileshare.relay import UPSTREAM_COMMAND
from cowait.fileshare.sftp import serve_chunks

SIDECAR = "share"

log = logging.getLogger("cowait.fileshare")


def pod_option(read_only: bool = False) -> dict[str, Any]:
    """The ``fileshare`` engine option of a pod whose task sees the caller's project folder (its
    subtasks inherit it): the pod gets the share's sidecar."""
    from cowait.fileshare.relay import share_client
    from cowait.runtime.taskdef import PROJECT_MOUNT

    # the client is chosen here, by the caller: subtask pods, rendered in a pod, use the same one
    return {"read_only": read_only, "target": PROJECT_MOUNT, "client": share_client()}


class ClusterShare:
    """Serves ``root`` into the share sidecars of the pods of one run."""

    def __init__(self, root: Path, engine: Any, run_id: str, read_only: bool = False,
                 exclude: list[str] | None = None, warn: Callable[[str], None] | None = None) -> None:
        self.root = root
        self.engine = engine
        self.run_id = run_id
        self.read_only = read_only
        self.exclude = exclude or []
        self._closing = threading.Event()
        self._trusted: dict[str, str] = {}  # uid -> pod name: the root pod and pods it owns, recursively
        self._served: dict[str, threading.Event] = {}  # pod name -> stop flag of its server
        self._streams: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
        self._warned: set[str] = set()
        self._root_id = run_id

    @property
    def description(self) -> str:
        return f"project folder streamed into the pod ({'read-only' if self.read_only else 'read-write'})"

    def prepare(self, root: Any) -> None:
        """Before the root pod is created: give it (and so its subtasks) the share's sidecar."""
        root.engine_options["fileshare"] = pod_option(read_only=self.read_only)
        self._root_id = root.id

    def attach(self) -> None:
        """Serve the run once its root pod has started."""
        self.start(self.engine.wait_started(self._root_id))

    def start(self, root_pod: dict[str, Any]) -> None:
        """Serve the run whose root pod (created by this process) is ``root_pod`` (the API's JSON)."""
        self._trusted[root_pod["metadata"]["uid"]] = root_pod["metadata"]["name"]
        threading.Thread(target=self._watch, name="fileshare-pods", daemon=True).start()

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            streams = list(self._streams.values())
        for stream in streams:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - already closed
                log.debug("closing a share stream failed", exc_info=True)

    # --- which pods ------------------------------------------------------------------------
    def _watch(self) -> None:
        selector = f"{L.RUN}={self.run_id}"
        while not self._closing.is_set():
            try:
                pods, version = self.engine.pod_api.list(label_selector=selector)
                for pod in pods:
                    self._consider(pod)
                for kind, pod in self.engine.pod_api.watch(version, label_selector=selector, timeout_seconds=60):
                    if self._closing.is_set():
                        return
                    if kind == "DELETED":
                        self._forget(pod)
                    else:
                        self._consider(pod)
            except Exception:  # noqa: BLE001 - the watch broke: list again
                time.sleep(1)

    def _consider(self, pod: dict[str, Any]) -> None:
        metadata = pod["metadata"]
        name = metadata["name"]
        if name in self._served or not _has_sidecar(pod):
            return
        if metadata.get("uid") not in self._trusted:
            owners = [o.get("uid") for o in metadata.get("ownerReferences") or [] if o.get("kind") == "Pod"]
            if not any(uid in self._trusted for uid in owners):
                return  # not (yet) known to be ours: its parent is trusted first
            self._trusted[metadata["uid"]] = name
        if not _sidecar_running(pod):
            ended = _sidecar_ended(pod)
            if ended is not None and name not in self._warned:
                self._warned.add(name)
                self._warn(f"the file share's sidecar in pod {name} stopped (exit {ended}); its files are not "
                           f"live (see 'kubectl logs {name} -c {SIDECAR}')")
            return
        stop = threading.Event()
        self._served[name] = stop
        threading.Thread(target=self._serve_pod, args=(name, stop), name=f"fileshare-{name}", daemon=True).start()

    def _forget(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        stop = self._served.pop(name, None)
        if stop is not None:
            stop.set()
        stream = self._streams.get(name)
        if stream is not None:
            stream.close()

    # --- one pod ---------------------------------------------------------------------------
    def _serve_pod(self, name: str, stop: threading.Event) -> None:
        """Offer streams to the pod's sidecar until the pod or this process goes."""
        failures = 0
        while not (stop.is_set() or self._closing.is_set()):
            started = time.monotonic()
            try:
                self._serve_once(name)
            except Exception:  # noqa: BLE001 - the stream failed: offer another
                log.debug("file share stream into pod %s ended", name, exc_info=True)
            failures = failures + 1 if time.monotonic() - started < 2 else 0
            if failures > 30:  # the sidecar is gone for good (the watch did not say so)
                return
            time.sleep(0.2)

    def _serve_once(self, name: str) -> None:
        stream = self.engine.exec_stream(name, UPSTREAM_COMMAND, container=SIDECAR, binary=True)
        keep_alive(stream.sock.sock)
        with self._lock:
            self._streams[name] = stream
        lock = threading.Lock()

        def send(data: bytes) -> None:
            with lock:
                stream.write_stdin(data)

        try:
            serve_chunks(str(self.root), _stdout(stream), send, read_only=self.read_only, exclude=self.exclude)
        finally:
            with self._lock:
                if self._streams.get(name) is stream:
                    del self._streams[name]
            stream.close()


def keep_alive(sock: socket.socket) -> None:
    """Notice a connection that died without closing (a network partition) within seconds, not
    TCP's minutes: this process then offers a new stream, and the sidecar's client moves to it."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1), (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 2),
               (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1), (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3),
               (socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 5000)]
    for level, option, value in options:
        try:
            sock.setsockopt(level, option, value)
        except (OSError, AttributeError):  # not TCP (a proxy's unix socket) or not Linux
            pass


def _stdout(stream: Any) -> Iterator[bytes]:
    """What the sidecar's upstream writes, frame by frame, until the websocket closes."""
    while stream.is_open():
        stream.update(timeout=1)
        if stream.peek_stdout():
            yield stream.read_stdout()


def _has_sidecar(pod: dict[str, Any]) -> bool:
    return any(c.get("name") == SIDECAR for c in (pod.get("spec") or {}).get("containers") or [])


def _sidecar_state(pod: dict[str, Any]) -> dict[str, Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return next((s.get("state") or {} for s in statuses if s.get("name") == SIDECAR), {})


def _sidecar_ended(pod: dict[str, Any]) -> int | None:
    """The exit code of a pod's sidecar that stopped, else None."""
    terminated = _sidecar_state(pod).get("terminated")
    return None if terminated is None else terminated.get("exitCode", -1)


def _sidecar_running(pod: dict[str, Any]) -> bool:
    return _sidecar_state(pod).get("running") is not None
