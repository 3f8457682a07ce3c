"""A local share left behind by a `cowait` that was killed (SIGKILL: no cleanup ran) is unmounted and
removed by the next one; a share that may still be starting is kept."""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
import time

import pytest

from cowait.fileshare.local import collect_stale_shares, shares_dir

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(os.geteuid() != 0, reason="stream mode makes a shared mount: needs root")]


def mounted(folder) -> bool:
    with open("/proc/self/mountinfo") as handle:
        return any(line.split(" ")[4] == str(folder) for line in handle)


def test_stale_shares_are_collected_and_live_ones_kept(docker_client):
    shares_dir().mkdir(parents=True, exist_ok=True)
    stale, fresh = shares_dir() / "stale-test-0001", shares_dir() / "fresh-test-0001"
    for folder in (stale, fresh):
        folder.mkdir()
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    old = time.time() - 3600
    os.utime(stale, (old, old))
    try:
        assert "stale-test-0001" in collect_stale_shares(docker_client)
        assert not stale.exists() and not mounted(stale)
        assert fresh.exists() and mounted(fresh)  # may still be starting: kept
    finally:
        for folder in (stale, fresh):
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)
            if folder.exists():
                folder.rmdir()


def test_a_share_whose_fuse_client_died_is_collected(docker_client):
    """A share folder whose FUSE connection has no daemon any more answers ENOTCONN to every stat:
    collected as stale, not a crash of the next ``cowait``."""
    shares_dir().mkdir(parents=True, exist_ok=True)
    dead = shares_dir() / "dead-test-0001"
    dead.mkdir()
    device = os.open("/dev/fuse", os.O_RDWR)
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        options = f"fd={device},rootmode=40000,user_id=0,group_id=0".encode()
        assert libc.mount(b"cowait-test", str(dead).encode(), b"fuse.cowait-test", 0, options) == 0, \
            os.strerror(ctypes.get_errno())
    finally:
        os.close(device)  # the daemon side is gone: the mount now answers ENOTCONN
    try:
        with pytest.raises(OSError) as raised:
            dead.lstat()
        assert raised.value.errno == errno.ENOTCONN
        assert "dead-test-0001" in collect_stale_shares(docker_client)
        assert not mounted(dead) and not dead.exists()
    finally:
        subprocess.run(["umount", "-l", str(dead)], capture_output=True, check=False)
        if dead.exists():
            dead.rmdir()
