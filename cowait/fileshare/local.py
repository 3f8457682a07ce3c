"""Local stream mode of the file share: the same sidecar and exec transport as on a cluster,
on the local engine (``cowait notebook --share stream``).

A host folder, made a shared mount, is bind-mounted ``rshared`` into a privileged sidecar, whose
relay agent runs a FUSE client (our own, or sshfs) on ``docker exec`` streams fed by this process's
jailed SFTP server. The FUSE
mount propagates to the host folder and from there, ``rslave``, into the notebook and its subtasks.
No inbound connection reaches this process; if a stream drops, operations fail fast with an I/O
error and this process offers a new stream, which the same mount picks up.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from cowait.engine import labels as L
from cowait.errors import CowaitError
from cowait.fileshare.relay import SIDECAR_MOUNT, UPSTREAM_COMMAND, agent_command, fuse_device, tune_readahead
from cowait.fileshare.sftp import GatherSend, serve_chunks
from cowait.runtime.taskdef import PROJECT_MOUNT

log = logging.getLogger("cowait.fileshare")


class LocalShare:
    """Serves ``root`` into containers through a sidecar; ``volume`` is what they mount."""

    def __init__(self, root: Path, run_id: str, image: str, project_dir: str, read_only: bool = False,
                 exclude: list[str] | None = None, fuse_client: str | None = None) -> None:
        from cowait.engine.docker.client import docker_client

        self.root = root
        self.run_id = run_id
        self.image = image
        self.project_dir = project_dir
        self.read_only = read_only
        self.exclude = exclude or []
        self.fuse_client = fuse_client  # None: COWAIT_SHARE_CLIENT's, else our own
        self.client = docker_client()
        self.folder = shares_dir() / run_id
        self.sidecar_id = f"{run_id}-share"
        self._closing = threading.Event()
        self._socket = None
        self.reconnects = 0

    @property
    def description(self) -> str:
        return f"project folder streamed through the file share ({'read-only' if self.read_only else 'read-write'})"

    def prepare(self, root: Any) -> None:
        """Start the share before the run; ``root`` (and so its subtasks) mounts its folder."""
        self.start()
        root.volumes.insert(0, self.volume)

    def attach(self) -> None:
        """Nothing more once the root runs: the sidecar already serves the folder."""

    @property
    def volume(self) -> dict[str, Any]:
        """The mount spec of the shared folder for task containers (they see the caller's files)."""
        return {"type": "bind", "source": str(self.folder), "target": PROJECT_MOUNT, "propagation": "rslave"}

    # --- lifecycle ------------------------------------------------------------------------
    def start(self, timeout: float = 30) -> None:
        if os.geteuid() != 0:
            raise CowaitError("--share stream needs root on this machine (it makes a shared mount)",
                              hint="use the default bind share locally")
        collect_stale_shares(self.client)
        self.folder.mkdir(parents=True, exist_ok=True)
        _run(["mount", "--bind", str(self.folder), str(self.folder)])
        _run(["mount", "--make-rshared", str(self.folder)])
        from docker.types import Mount

        self.client.containers.run(
            self.image, agent_command(self.read_only, self.fuse_client), name=self.sidecar_id, detach=True,
            network_mode="none",
            devices=["/dev/fuse:/dev/fuse:rwm"], cap_add=["SYS_ADMIN"], security_opt=["apparmor=unconfined"],
            mounts=[Mount(target=SIDECAR_MOUNT, source=str(self.folder), type="bind", propagation="rshared")],
            labels={L.RUN: self.run_id, L.TASK: self.sidecar_id, L.NAME: "fileshare", L.PARENT: self.run_id,
                    L.ROOT: "false", L.PROJECT_DIR: self.project_dir}, init=True)
        threading.Thread(target=self._supervise, name="fileshare", daemon=True).start()
        if not self._wait_mounted(timeout):
            self.close()
            raise CowaitError("the file share did not mount in time", hint="rebuild the image with 'cowait build'")
        tune_readahead(str(self.folder))  # the sidecar's /sys is read-only here: set it from the host

    def close(self) -> None:
        self._closing.set()
        self._drop()
        try:
            self.client.containers.get(self.sidecar_id).remove(force=True)
        except Exception:  # noqa: BLE001 - already gone
            log.debug("removing the share's sidecar failed", exc_info=True)
        _unmount(self.folder)

    def __enter__(self) -> "LocalShare":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _drop(self) -> None:
        """Cut the stream (also how tests simulate a network failure)."""
        sock = self._socket
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    # --- the stream -----------------------------------------------------------------------
    def _supervise(self) -> None:
        """Offer a stream to the sidecar, serve it until it ends, and offer a new one unless closing.

        The sidecar's FUSE mount outlives a stream (see ``cowait.fileshare.relay``): while none is
        there, operations in the notebook fail with an I/O error; the next one after this process
        reconnects succeeds, in the same mount, so running kernels keep their working directory."""
        while not self._closing.is_set():
            try:
                self._serve_once()
            except Exception:  # noqa: BLE001 - the stream failed: offer another
                log.debug("file share stream into %s ended", self.sidecar_id, exc_info=True)
            if self._closing.is_set():
                break
            self.reconnects += 1
            time.sleep(0.2)

    def _serve_once(self) -> None:
        api = self.client.api
        exec_id = api.exec_create(self.sidecar_id, UPSTREAM_COMMAND, stdin=True, stdout=True, stderr=True)["Id"]
        sock = api.exec_start(exec_id, socket=True)
        self._socket = sock._sock
        try:
            chunks = _stdout_frames(self._socket)
            serve_chunks(str(self.root), chunks, GatherSend(self._socket), read_only=self.read_only,
                         exclude=self.exclude)
        finally:
            self._drop()

    def _wait_mounted(self, timeout: float) -> bool:
        """The FUSE mount reached the host folder, and a listing through it works."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._closing.is_set():
            if fuse_device(str(self.folder)) is not None:
                listed = threading.Event()

                def listing(done: threading.Event = listed) -> None:
                    os.listdir(self.folder)
                    done.set()

                threading.Thread(target=listing, daemon=True).start()
                if listed.wait(max(0.1, deadline - time.monotonic())):
                    return True
            time.sleep(0.1)
        return False


def shares_dir() -> Path:
    """Where the host folders of local shares live (one per run)."""
    return Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / "cowait-shares"


def collect_stale_shares(client: Any) -> list[str]:
    """Unmount and remove the host folders of shares whose sidecar is gone (their ``cowait`` was
    killed before it could clean up); return their run ids."""
    names = {c.name for c in client.containers.list(all=True, filters={"label": L.NAME + "=fileshare"})}
    stale = []
    for folder in sorted(shares_dir().glob("*")) if shares_dir().is_dir() else []:
        # a folder made in the last minute may belong to a share that is still starting
        if f"{folder.name}-share" not in names and _age(folder) > 60:
            _unmount(folder)
            stale.append(folder.name)
    return stale


def _age(folder: Path) -> float:
    """Seconds since the share folder was made; infinite when its FUSE mount no longer answers
    (ENOTCONN: the client behind it is gone, so the share is over, not starting: a share mounts only
    once its sidecar runs)."""
    try:
        return time.time() - folder.lstat().st_mtime
    except OSError:
        return float("inf")


def _unmount(folder: Path) -> None:
    """Lazily detach the FUSE mount and the shared bind mount under it, then remove the folder (only
    if it is empty: never delete through a mount that is still there)."""
    for _ in range(2):
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)
    try:
        folder.rmdir()
    except OSError:
        pass


def _stdout_frames(sock: Any) -> Iterator[bytes]:
    """The stdout of a non-tty ``docker exec`` stream, in order, in chunks of any size. Docker
    multiplexes it in frames of an 8-byte header (stream, 3 zero bytes, big-endian length) and a
    payload. Read in large blocks, and the stdout payloads of one block leave as one chunk (docker-py's
    own demux reads and selects per frame, which costs more than the transfer on bulk reads)."""
    rest = b""
    while True:
        block = sock.recv(1 << 20)
        if not block:
            return
        data = rest + block if rest else block
        view = memoryview(data)
        payloads, pos, size = [], 0, len(data)
        while size - pos >= 8:
            length = int.from_bytes(view[pos + 4:pos + 8], "big")
            if size - pos - 8 < length:
                break
            if data[pos] == 1 and length:
                payloads.append(view[pos + 8:pos + 8 + length])
            pos += 8 + length
        rest = data[pos:]
        if payloads:
            yield b"".join(payloads)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise CowaitError(f"{' '.join(command)} failed: {done.stderr.strip()}")
