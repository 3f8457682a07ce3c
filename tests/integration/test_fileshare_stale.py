"""A local share left behind by a `cowait` that was killed (SIGKILL: no cleanup ran) is unmounted and
removed by the next one; a share that may still be starting is kept."""

from __future__ import annotations

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
