"""A design probe, not a product benchmark: what 4 KiB writes cost through FUSE itself.

The share's 4 KiB-write row misses its target (<= 2x the raw exec pipe). This measures the floor
under any FUSE client written in Python: a minimal daemon on ``/dev/fuse`` (one file, no transport)
that acknowledges WRITE requests and joins their data into 1 MiB blocks written to /dev/null.

- without the kernel's writeback cache (how sshfs and the share run): one request per ``write()``,
  with the file's block size reported as 4 KiB (what sshfs reports) and as 1 MiB;
- with it (``FUSE_WRITEBACK_CACHE``): the kernel joins writes into requests of up to 1 MiB. The
  kernel then trusts its own file size, so a client using it needs a coherence scheme of its own.

Both against the raw exec pipe out of the same container, alternating rounds, medians. Run with
``bash scripts/bench.sh probe_fuse_floor`` (needs root for ``/dev/fuse`` in a container). Not in the
default benchmark list: it measures a design option, not what users run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

IMAGE = "python:3.11-slim"  # any image with python3; the default base is always provisioned
SIZE_MB = 256
ROUNDS = 3
LABEL = "cowait.bench=probe-fuse-floor"


def main() -> list[dict]:
    from bench.common import report  # here: the daemon half runs in a container without the bench package

    if os.geteuid() != 0:
        print("probe_fuse_floor: skipped (needs root)")
        return []
    here = Path(__file__).resolve()
    name = f"cowait-probe-fuse-{os.getpid()}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--label", LABEL, "--cap-add", "SYS_ADMIN",
                    "--device", "/dev/fuse", "--security-opt", "apparmor=unconfined",
                    "-v", f"{here}:/probe.py:ro", IMAGE, "sleep", "900"], check=True, capture_output=True)
    try:
        mounts = {"/mnt/small": " --blksize 4096", "/mnt/plain": "", "/mnt/writeback": " --writeback"}
        for mount, extra in mounts.items():
            subprocess.run(["docker", "exec", "-d", name, "sh", "-c",
                            f"mkdir -p {mount} && exec python3 /probe.py serve {mount}{extra}"], check=True)
        _wait_mounted(name, list(mounts))

        def timed(command: str, into: str | None = None) -> float:
            start = time.perf_counter()
            shell = command if into is None else f"{command} > {into}"
            out = subprocess.DEVNULL if into is None else None
            subprocess.run(["docker", "exec", name, "sh", "-c", shell], check=True, stdout=out)
            return time.perf_counter() - start

        write = f"head -c {SIZE_MB}M /dev/zero"
        rounds = [[timed(write)] + [timed(write, f"{mount}/out.bin") for mount in mounts] for _ in range(ROUNDS)]
        pipe, small, plain, cached = (statistics.median(column) for column in zip(*rounds))
        baseline = "raw exec pipe out (time)"
        return [report("probe: Python FUSE daemon, st_blksize 4 KiB", small, baseline, pipe),
                report("probe: the same, st_blksize 1 MiB", plain, baseline, pipe),
                report("probe: the same with the writeback cache", cached, baseline, pipe)]
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def _wait_mounted(container: str, mounts: list[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        table = subprocess.run(["docker", "exec", container, "cat", "/proc/mounts"], capture_output=True,
                               text=True).stdout
        if all(f" {mount} fuse.probe " in table for mount in mounts):
            return
        time.sleep(0.2)
    raise RuntimeError(f"probe_fuse_floor: the probe's FUSE mounts did not appear in {container}")


# --- the daemon (runs in the container: python3 /probe.py serve MOUNT [--writeback]) ----------
def serve(mount: str, writeback: bool, blksize: int) -> None:
    """Mount a FUSE file system with one file on ``mount`` and answer requests until unmounted;
    ``blksize`` is the block size its attributes report (sshfs reports 4096)."""
    import ctypes
    import stat
    import struct

    fuse = os.open("/dev/fuse", os.O_RDWR)
    libc = ctypes.CDLL(None, use_errno=True)
    options = f"fd={fuse},rootmode=40000,user_id=0,group_id=0".encode()
    if libc.mount(b"probe", mount.encode(), b"fuse.probe", 0, options) != 0:
        raise OSError(ctypes.get_errno(), f"mount {mount}")
    header_in, header_out = struct.Struct("<IIQQIIIHH"), struct.Struct("<IiQ")
    attr = struct.Struct("<QQQQQQIIIIIIIIII")
    directory, regular = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o644
    size = {1: 0, 2: 0}
    sink = os.open("/dev/null", os.O_WRONLY)
    joined = bytearray()

    def attributes(node: int) -> bytes:
        return attr.pack(node, size[node], 0, 0, 0, 0, 0, 0, 0, directory if node == 1 else regular, 1, 0, 0, 0,
                         blksize, 0)

    def entry(node: int) -> bytes:
        return struct.pack("<QQQQII", node, 0, 0, 0, 200_000_000, 200_000_000) + attributes(node)

    def reply(unique: int, body: bytes = b"", error: int = 0) -> None:
        os.write(fuse, header_out.pack(16 + len(body), -error, unique) + body)

    def drain() -> None:
        if joined:
            os.write(sink, joined)
            joined.clear()

    flags = (1 << 0) | (1 << 5) | (1 << 22) | ((1 << 16) if writeback else 0)  # async read, big writes,
    while True:                                                                  # max pages, writeback
        try:
            request = os.read(fuse, (1 << 20) + 8192)
        except OSError as exc:
            if exc.errno == 19:  # ENODEV: unmounted
                return
            raise
        length, op, unique, node, *_ = header_in.unpack_from(request)
        if op == 16:  # WRITE
            _, offset, count = struct.unpack_from("<QQI", request, 40)
            joined.extend(memoryview(request)[80:80 + count])
            if len(joined) >= 1 << 20:
                drain()
            size[2] = max(size[2], offset + count)
            reply(unique, struct.pack("<II", count, 0))
        elif op == 26:  # INIT
            readahead = struct.unpack_from("<I", request, 48)[0]
            reply(unique, struct.pack("<IIIIHHIIHHII", 7, 31, readahead, flags, 12, 9, 1 << 20, 1, 256, 0, 0, 0)
                  + bytes(20))
        elif op == 1:  # LOOKUP
            if request[40:length].rstrip(b"\0") == b"out.bin":
                reply(unique, entry(2))
            else:
                reply(unique, error=2)
        elif op in (3, 4):  # GETATTR, SETATTR (only truncation matters here)
            if op == 4 and struct.unpack_from("<I", request, 40)[0] & (1 << 3):
                size[node] = struct.unpack_from("<Q", request, 56)[0]
            reply(unique, struct.pack("<QII", 0, 200_000_000, 0) + attributes(node))
        elif op == 35:  # CREATE
            reply(unique, entry(2) + struct.pack("<QIi", 1, 0, 0))
        elif op in (14, 27):  # OPEN, OPENDIR
            reply(unique, struct.pack("<QIi", 1, 0, 0))
        elif op in (18, 20, 25, 29):  # RELEASE, FSYNC, FLUSH, RELEASEDIR
            drain()
            reply(unique)
        elif op in (2, 42):  # FORGET, BATCH_FORGET: no reply
            continue
        else:
            reply(unique, error=38)  # ENOSYS


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        rest = sys.argv[3:]
        serve(sys.argv[2], "--writeback" in rest, int(rest[rest.index("--blksize") + 1]) if "--blksize" in rest
              else 1 << 20)
    else:
        main()
