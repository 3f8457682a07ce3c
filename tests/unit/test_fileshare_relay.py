"""The sidecar's relay on this host: one FUSE mount (host sshfs or our own client, /dev/fuse) fed by upstream
processes that stand in for exec streams, each connected by pipes to a jailed SFTP server. A dropped
stream gives an I/O error within the relay's wait; the next stream serves the same mount."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cowait.fileshare.relay import WAIT, wait_mounted

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("sshfs") or not os.path.exists("/dev/fuse"),
                                reason="needs root, sshfs and /dev/fuse")


class Stream:
    """An 'exec stream': the SFTP server and a relay upstream joined by two pipes."""

    def __init__(self, root: Path, socket: Path) -> None:
        server_in, upstream_out = os.pipe()
        upstream_in, server_out = os.pipe()
        self.server = subprocess.Popen([sys.executable, "-m", "cowait.fileshare.sftp", str(root)],
                                       stdin=server_in, stdout=server_out)
        self.upstream = subprocess.Popen([sys.executable, "-m", "cowait.fileshare.relay", "upstream",
                                          "--socket", str(socket)], stdin=upstream_in, stdout=upstream_out)
        for fd in (server_in, upstream_out, upstream_in, server_out):
            os.close(fd)

    def drop(self) -> None:
        for process in (self.server, self.upstream):
            process.kill()
            process.wait()


def attempt(command: list[str], timeout: float = 15) -> tuple[float, int, str]:
    """(seconds, exit code, output) of a command on the mount; a hang fails the test, not the run."""
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while process.poll() is None:
        if time.monotonic() - start > timeout:
            pytest.fail(f"{command} hung on the share")
        time.sleep(0.02)
    return time.monotonic() - start, process.returncode, process.stdout.read()


@pytest.fixture(params=["sshfs", "cowait"])
def mounted(tmp_path, request):
    root, mount, socket = tmp_path / "root", tmp_path / "mnt", tmp_path / "relay.sock"
    root.mkdir()
    mount.mkdir()
    (root / "a.txt").write_text("hello")
    agent = subprocess.Popen([sys.executable, "-m", "cowait.fileshare.relay", "agent", str(mount),
                              "--socket", str(socket), "--client", request.param], stderr=subprocess.DEVNULL)
    streams: list[Stream] = []
    try:
        assert wait_mounted(str(mount), timeout=10) and agent.poll() is None, "the relay agent did not mount"
        yield root, mount, lambda: streams.append(Stream(root, socket)) or streams[-1]
    finally:
        for stream in streams:
            stream.drop()
        agent.terminate()
        agent.wait(timeout=10)
        subprocess.run(["fusermount3", "-u", "-z", str(mount)], capture_output=True, check=False)


def test_the_mount_outlives_a_dropped_stream(mounted):
    root, mount, connect = mounted
    first = connect()
    assert attempt(["cat", str(mount / "a.txt")])[1:] == (0, "hello")
    first.drop()
    # The operation that makes sshfs dial waits up to WAIT for a stream, then fails; while none is
    # there, later dials fail at once. (An operation already sent on the dropped stream fails at
    # once without a dial, so the waiting one may be the first or the second.)
    tries = [attempt(["cat", str(mount / "a.txt")]) for _ in range(3)]
    assert all(code != 0 and "Input/output error" in output for _, code, output in tries), tries
    assert all(seconds <= WAIT + 1.5 for seconds, _, _ in tries), tries
    waited = [index for index, (seconds, _, _) in enumerate(tries) if seconds >= 1]
    assert len(waited) <= 1 and 2 not in waited, tries  # no stream still: the last one fails at once
    connect()  # operations fail at once until its upstream has registered, then work again
    (root / "b.txt").write_text("after the reconnect")
    deadline = time.monotonic() + 10
    while (result := attempt(["cat", str(mount / "b.txt")]))[1] != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert result[1:] == (0, "after the reconnect")


def test_a_stream_whose_caller_left_before_use_is_skipped(mounted):
    """An upstream offered and then abandoned (its caller gone) is never handed to sshfs."""
    _, mount, connect = mounted
    stale = connect()
    stale.server.kill()  # the caller's side of this stream is gone
    stale.server.wait()
    time.sleep(0.2)
    connect()
    assert attempt(["cat", str(mount / "a.txt")])[1:] == (0, "hello")


def test_a_stalled_stream_gives_way_to_the_next_one(mounted):
    """A stream that stops moving without closing (a network partition): once the caller offers a new
    one, sshfs is moved to it, so operations work again without waiting for the old one to time out."""
    _, mount, connect = mounted
    stalled = connect()
    assert attempt(["cat", str(mount / "a.txt")])[1:] == (0, "hello")
    stalled.server.send_signal(signal.SIGSTOP)
    try:
        connect()
        deadline = time.monotonic() + 10
        while (result := attempt(["cat", str(mount / "a.txt")]))[1] != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert result[1:] == (0, "hello")
    finally:
        stalled.server.send_signal(signal.SIGCONT)
