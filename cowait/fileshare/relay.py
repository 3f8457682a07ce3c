"""The pod side of the file share: keeps one FUSE mount alive across dropped streams.

The sidecar's main process is the *agent*. The caller's ``cowait`` opens exec streams into the
sidecar that run an *upstream*: a process whose stdin and stdout are the stream to the caller's SFTP
server, offered to the agent over a unix socket. The agent mounts the share with one of two FUSE
clients (``--client``, chosen by the caller):

- ``cowait`` (the default): our own client (``cowait.fileshare.client``) in the agent's process,
  which takes each new upstream's descriptors and moves to it, newest first;
- ``sshfs``: ``sshfs -o reconnect`` with this module as its ``ssh_command``, so that each
  (re)connection of sshfs starts a *dialer* instead of ssh; the agent pairs each dialer with the
  newest live upstream by passing the upstream's descriptors to the dialer, which connects them to
  sshfs (bulk data from the caller is spliced in the kernel, not copied through Python).

Because the FUSE mount itself survives a dropped stream, processes inside it (a kernel whose working
directory is the share) keep working once the caller reconnects: with no stream, file operations fail
with an I/O error after ``WAIT`` seconds, and the next operation after a reconnect succeeds.

Standard library only: it runs in the project image, next to whatever the project installs::

    python -m cowait.fileshare.relay agent MOUNT [--socket S] [--read-only] [--client cowait|sshfs]
                                                 [-o SSHFS_OPTIONS]
    python -m cowait.fileshare.relay upstream [--socket S]     (stdin/stdout: the caller's stream)
    python -m cowait.fileshare.relay dial S ...                (run by sshfs; extra ssh arguments ignored)
"""

from __future__ import annotations

import argparse
import itertools
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

SOCKET = "/run/cowait-share.sock"
SIDECAR_MOUNT = "/mnt/share"  # where the sidecar mounts the share (propagated to the task container)
READAHEAD_KB = 2048  # kernel readahead of the mount: more read requests in flight
WAIT = 3.0  # how long an operation waits for a stream before it fails with an I/O error
# Caches short enough that a local edit is visible remotely within a second (the kernel's 0.2 s on
# top of sshfs's 0.8 s); sshfs's listing cache answers the lookups that follow a listing (find, ls -l)
# without a round trip each. max_read/max_write: the largest requests sshfs will make (it caps
# reads at 64 KiB), half as many round trips as its default.
SSHFS_OPTIONS = ("attr_timeout=0.2,entry_timeout=0.2,negative_timeout=0.2,dir_cache=yes,dcache_timeout=0.8,"
                 "allow_other,max_conns=1,reconnect,delay_connect,max_read=131072,max_write=131072")
UPSTREAM, DIAL, PAIRED = b"U", b"D", b"P"
# What the caller runs through an exec stream into the sidecar.
UPSTREAM_COMMAND = ["python", "-m", "cowait.fileshare.relay", "upstream"]


CLIENTS = ("sshfs", "cowait")


def share_client() -> str:
    """Which FUSE client the sidecar runs: ``cowait`` (``cowait.fileshare.client``, the default) or
    sshfs, chosen on the caller's side by ``COWAIT_SHARE_CLIENT``."""
    chosen = os.environ.get("COWAIT_SHARE_CLIENT") or "cowait"
    if chosen not in CLIENTS:
        from cowait.errors import CowaitError

        raise CowaitError(f"COWAIT_SHARE_CLIENT={chosen}: no such FUSE client for the file share",
                          hint="use 'cowait' (the default) or 'sshfs', or unset it")
    return chosen


def agent_command(read_only: bool = False, client: str | None = None) -> list[str]:
    """The sidecar's command."""
    return (["python", "-m", "cowait.fileshare.relay", "agent", SIDECAR_MOUNT] + (["--read-only"] if read_only else [])
            + ["--client", client or share_client()])


# --- agent ----------------------------------------------------------------------------------
class Agent:
    """Accepts upstreams and dialers on a unix socket and pairs them, newest upstream first."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.upstreams: list[tuple[socket.socket, list[int]]] = []
        self.arrived = threading.Condition()
        self.down = False  # the last dial found no stream
        self.active: socket.socket | None = None  # the agent's end of the connected dialer's socket
        self.listener = _listen(path)

    def serve_forever(self) -> None:
        while True:
            conn, _ = self.listener.accept()
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            role, fds, _, _ = socket.recv_fds(conn, 1, 2)
        except OSError:
            conn.close()
            return
        if role == UPSTREAM and len(fds) == 2:
            with self.arrived:
                self.upstreams.append((conn, fds))
                self.arrived.notify_all()
                # The caller offers a stream only when it gave up the previous one: a stream that
                # stalled without closing (a network partition) is cut, so sshfs reconnects to this one.
                if self.active is not None:
                    self.active.close()
                    self.active = None
        elif role == DIAL:
            self._pair(conn)
        else:
            _close(conn, fds)

    def _take_live(self) -> tuple[socket.socket, list[int]] | None:
        while self.upstreams:
            conn, fds = self.upstreams.pop()
            if _alive(fds[0]):
                return conn, fds
            _close(conn, fds)
        return None

    def _pair(self, dialer: socket.socket) -> None:
        # While streams are missing, only the first dial waits for one: later ones fail at once.
        deadline = time.monotonic() + (0 if self.down else WAIT)
        with self.arrived:
            found = self._take_live()
            while found is None and time.monotonic() < deadline:
                self.arrived.wait(max(0.0, deadline - time.monotonic()))
                found = self._take_live()
            self.down = found is None
        if found is None:  # no stream: sshfs fails this connection (the operation gets EIO)
            dialer.close()
            return
        upstream, fds = found
        try:
            upstream.sendall(PAIRED)
            socket.send_fds(dialer, [PAIRED], fds + [upstream.fileno()])
        except OSError:
            dialer.close()
        _close(upstream, fds)
        with self.arrived:
            if self.active is not None:
                self.active.close()
            self.active = dialer  # the dialer ends when this closes


def run_agent(mount: str, path: str, read_only: bool, options: str) -> int:
    """Run sshfs on ``mount`` with dialers as transport, until sshfs ends or we are stopped."""
    agent = Agent(path)
    threading.Thread(target=agent.serve_forever, daemon=True).start()
    os.makedirs(mount, exist_ok=True)
    dial = f"{sys.executable} -m cowait.fileshare.relay dial {path}"
    opts = f"{options},ssh_command={dial}" + (",ro" if read_only else "")
    try:
        sshfs = subprocess.Popen(["sshfs", "-f", "-o", opts, "cowait:/", mount])
    except FileNotFoundError:
        print("cowait file share: sshfs is not in this image; it is added when the project has notebooks "
              "(or 'features: {notebook: true}' in cowait.yml): build and push the image again", file=sys.stderr)
        return 2

    stopped = threading.Event()

    def stop(*_: object) -> None:
        stopped.set()
        subprocess.run(["fusermount3", "-u", "-z", mount], capture_output=True, check=False)
        sshfs.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if wait_mounted(mount, timeout=30):
        tune_readahead(mount)
    code = sshfs.wait()
    return 0 if stopped.is_set() else code


def run_client_agent(mount: str, path: str, read_only: bool) -> int:
    """Mount ``mount`` with our own FUSE client and attach each new upstream to it, newest first."""
    from cowait.fileshare.client import Client, Sftp

    os.makedirs(mount, exist_ok=True)
    client = Client(mount, read_only=read_only)
    client.mount_fuse()
    listener = _listen(path)

    def attach(conn: socket.socket, order: int) -> None:
        try:
            role, fds, _, _ = socket.recv_fds(conn, 1, 2)
        except OSError:
            conn.close()
            return
        if role != UPSTREAM or len(fds) != 2 or not _alive(fds[0]):
            _close(conn, fds)
            return
        sftp = Sftp(fds[0], fds[1])
        try:
            sftp.start()  # a caller that left before this (or a silent one) fails here
            conn.sendall(PAIRED)
        except (OSError, EOFError):
            conn.close()
            sftp.discard()
            return
        # the upstream stays until conn closes: when a stream offered later is attached
        client.attach(sftp, keep=conn, order=order)

    def accept() -> None:
        for order in itertools.count():
            conn, _ = listener.accept()
            threading.Thread(target=attach, args=(conn, order), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()

    def stop(*_: object) -> None:  # serve() returns once the mount is gone
        subprocess.run(["umount", "-l", mount], capture_output=True, check=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tune_readahead(mount)
    client.serve()
    return 0


# --- upstream -------------------------------------------------------------------------------
def run_upstream(path: str) -> int:
    """Offer this process's stdin/stdout to the agent; stay until the dialer using them is gone."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    socket.send_fds(conn, [UPSTREAM], [0, 1])
    poller = select.poll()
    poller.register(conn, select.POLLIN)
    poller.register(0, 0)  # only hang-ups: the caller went away before a dialer took the stream
    while True:
        for fd, event in poller.poll():
            if fd == 0 and event & (select.POLLHUP | select.POLLERR):
                return 1
            if fd == conn.fileno():
                if conn.recv(1) != PAIRED:
                    return 1
                conn.recv(1)  # blocks until the dialer is gone (its copy of our socket closes)
                return 0


# --- dialer ---------------------------------------------------------------------------------
def run_dialer(path: str) -> int:
    """Connect sshfs (our stdin/stdout) to the stream the agent hands over; exit when either ends."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    conn.sendall(DIAL)
    conn.settimeout(WAIT + 5)
    try:
        _, fds, _, _ = socket.recv_fds(conn, 1, 3)
    except OSError:
        return 1
    if len(fds) != 3:
        return 1
    remote_in, remote_out, _keep = fds
    done = threading.Event()
    for source, target in ((remote_in, 1), (0, remote_out)):
        threading.Thread(target=_pump, args=(source, target, done), daemon=True).start()
    conn.settimeout(None)
    threading.Thread(target=lambda: (conn.recv(1), done.set()), daemon=True).start()  # cut by the agent
    done.wait()
    os._exit(0)


def _pump(source: int, target: int, done: threading.Event) -> None:
    try:
        if stat.S_ISFIFO(os.fstat(source).st_mode):  # zero-copy out of a pipe
            while os.splice(source, target, 1 << 20):
                pass
        else:
            while data := os.read(source, 1 << 18):
                view = memoryview(data)
                while view:
                    view = view[os.write(target, view):]
    except OSError:
        pass
    finally:
        done.set()


# --- the task container's side ------------------------------------------------------------
def fuse_device(path: str) -> str | None:
    """The device ("major:minor") of the FUSE mount on ``path`` as this process sees it, else None."""
    with open("/proc/self/mountinfo") as handle:
        return next((line.split(" ")[2] for line in handle if line.split(" ")[4] == path and " - fuse" in line),
                    None)


def wait_mounted(path: str, timeout: float = 60.0) -> bool:
    """Wait until the sidecar's FUSE mount reached ``path`` (True), or ``timeout`` passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if fuse_device(path) is not None:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def tune_readahead(path: str, kilobytes: int = READAHEAD_KB) -> bool:
    """Raise the kernel's readahead of the FUSE mount on ``path`` (the default 128 KiB keeps only two
    requests in flight: sequential reads then wait on every round trip). Needs a writable /sys:
    the privileged sidecar on a cluster, the caller (root) locally. True if it was set."""
    device = fuse_device(path)
    if device is None:
        return False
    try:
        with open(f"/sys/class/bdi/{device}/read_ahead_kb", "w") as handle:
            handle.write(str(kilobytes))
        return True
    except OSError:
        return False


# --- helpers --------------------------------------------------------------------------------
def _listen(path: str) -> socket.socket:
    """The agent's unix socket on ``path`` (replacing a stale one), for this user only."""
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(16)
    return listener


def _alive(fd: int) -> bool:
    poller = select.poll()
    poller.register(fd, 0)
    return not any(event & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, event in poller.poll(0))


def _close(conn: socket.socket, fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
    conn.close()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["dial"] and len(argv) >= 2:  # sshfs appends ssh arguments: ignore them
        return run_dialer(argv[1])
    parser = argparse.ArgumentParser(prog="python -m cowait.fileshare.relay")
    commands = parser.add_subparsers(dest="command", required=True)
    agent = commands.add_parser("agent", help="mount the share and pair streams with sshfs")
    agent.add_argument("mount")
    agent.add_argument("--socket", default=SOCKET)
    agent.add_argument("--read-only", action="store_true")
    agent.add_argument("-o", dest="options", default=SSHFS_OPTIONS)
    agent.add_argument("--client", choices=CLIENTS, default="cowait")
    upstream = commands.add_parser("upstream", help="offer this process's stdin/stdout as a stream")
    upstream.add_argument("--socket", default=SOCKET)
    args = parser.parse_args(argv)
    if args.command == "agent" and args.client == "cowait":
        return run_client_agent(args.mount, args.socket, args.read_only)
    if args.command == "agent":
        return run_agent(args.mount, args.socket, args.read_only, args.options)
    return run_upstream(args.socket)


if __name__ == "__main__":
    sys.exit(main())
