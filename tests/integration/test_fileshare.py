"""The live file share in local stream mode (`cowait notebook --share stream`): the same sidecar and
exec transport as on a cluster, on the local engine, driven through a real Jupyter kernel."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import fixture_project
from tests.support.fileshare import KILL_UPSTREAMS
from tests.support.jupyter import JupyterServer

pytestmark = [pytest.mark.docker, pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="stream mode makes a shared mount: needs root")]

@pytest.fixture(scope="module", params=["sshfs", "cowait"])
def streamed(tmp_path_factory, request):
    """`cowait notebook --share stream` on the notebooks fixture, with each FUSE client in the sidecar
    (sshfs, the default, and our own: COWAIT_SHARE_CLIENT=cowait); yields (project, kernel, sidecar id)."""
    from cowait.engine.docker.client import docker_client

    with fixture_project("notebooks", tmp_path_factory.mktemp("share"), build=False) as root:
        yield from _serve_streamed(root, docker_client, request.param)


def _serve_streamed(root, docker_client, client: str = "sshfs"):
    env = {**os.environ, "COWAIT_SHARE_CLIENT": client}
    process = subprocess.Popen([sys.executable, "-m", "cowait", "notebook", "--share", "stream"], cwd=root,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    url = process.stdout.readline().strip()
    assert url.startswith("http://"), process.stderr.read() if process.poll() is not None else url
    base, token = url.split("/lab?token=")
    kernel = JupyterServer(base, token).start_kernel()
    sidecar = [c for c in docker_client().containers.list(filters={"label": f"cowait.project_dir={root}"})
               if c.labels.get("cowait.name") == "fileshare"][0]
    mounts = sidecar.exec_run(["cat", "/proc/mounts"]).output.decode()
    assert f" fuse.{client} " in mounts, mounts  # the client asked for is the one serving the share
    yield root, kernel, sidecar, process
    kernel.ws.close()
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 0
    assert docker_client().containers.list(all=True, filters={"label": f"cowait.project_dir={root}"}) == []


def run(kernel, code: str) -> str:
    result = kernel.execute(code)
    assert result.status == "ok", result.error
    return result.stdout


def test_the_notebook_works_on_the_callers_files(streamed):
    root, kernel, *_ = streamed
    assert " fuse." in run(kernel, "print(open('/proc/mounts').read())")  # the sidecar's FUSE mount
    listing = run(kernel, "import os; print(sorted(os.listdir('.')))")
    assert "square.ipynb" in listing and "helpers.py" in listing
    run(kernel, "open('made.txt', 'w').write('from the notebook')\nos.rename('made.txt', 'renamed.txt')")
    assert (root / "renamed.txt").read_text() == "from the notebook"
    (root / "to-delete.txt").write_text("x")
    run(kernel, "os.remove('to-delete.txt')")
    assert not (root / "to-delete.txt").exists()


def test_a_local_edit_is_visible_remotely_within_a_second(streamed):
    root, kernel, *_ = streamed
    (root / "edited.txt").write_text("before")
    run(kernel, "print(open('edited.txt').read())")
    (root / "edited.txt").write_text("after the edit")
    output = run(kernel, "import time\nstart = time.time()\n"
                         "while open('edited.txt').read() != 'after the edit' and time.time() - start < 5:\n"
                         "    time.sleep(0.02)\nprint(round(time.time() - start, 3))")
    delay = float(output.strip().splitlines()[-1])
    print(f"edit visible after {delay:.3f}s")
    assert delay <= 1.0


def test_escapes_through_the_share_are_refused(streamed):
    root, kernel, *_ = streamed
    os.symlink("/etc", root / "etc-link")
    try:
        output = run(kernel, "try:\n    print(open('etc-link/hostname').read())\nexcept OSError as e:\n"
                             "    print('refused', e.errno)")
        assert output.startswith("refused")
    finally:
        (root / "etc-link").unlink()


def test_a_thousand_files_written_with_fsync_arrive_intact(streamed):
    root, kernel, *_ = streamed
    run(kernel, "import os, hashlib\nos.makedirs('many', exist_ok=True)\n"
                "for i in range(1000):\n"
                "    with open(f'many/{i}.bin', 'wb') as f:\n"
                "        f.write(hashlib.sha256(str(i).encode()).digest() * 32)\n"
                "        f.flush(); os.fsync(f.fileno())")
    import hashlib

    for i in range(1000):
        assert (root / "many" / f"{i}.bin").read_bytes() == hashlib.sha256(str(i).encode()).digest() * 32


def test_large_reads_arrive_intact_whole_and_at_random_offsets(streamed):
    """48 MB files of random bytes made on the host: one read whole (the kernel's readahead: many large
    READs in flight), another in pieces at random offsets from four threads at once; each compared."""
    import hashlib
    import random

    root, kernel, *_ = streamed
    whole, pieces = random.Random(7).randbytes(48 << 20), random.Random(8).randbytes(48 << 20)
    (root / "whole.bin").write_bytes(whole)
    (root / "pieces.bin").write_bytes(pieces)
    try:
        read = run(kernel, "import hashlib\nprint(hashlib.sha256(open('whole.bin', 'rb').read()).hexdigest())")
        assert read.strip() == hashlib.sha256(whole).hexdigest()
        sizes = [1, 4095, 65536, 1 << 20, 3 << 20]
        picks = [(random.Random(i).randrange(len(pieces)), sizes[i % len(sizes)]) for i in range(200)]
        output = run(kernel, "import hashlib, os\nfrom concurrent.futures import ThreadPoolExecutor\n"
                             f"picks = {picks!r}\nfd = os.open('pieces.bin', os.O_RDONLY)\n"
                             "def piece(pick):\n    return hashlib.sha256(os.pread(fd, pick[1], pick[0])).hexdigest()\n"
                             "with ThreadPoolExecutor(4) as pool:\n    print(' '.join(pool.map(piece, picks)))\n"
                             "os.close(fd)")
        assert output.split() == [hashlib.sha256(pieces[offset:offset + size]).hexdigest() for offset, size in picks]
    finally:
        (root / "whole.bin").unlink()
        (root / "pieces.bin").unlink()


def test_subtasks_see_the_share(streamed):
    root, kernel, *_ = streamed
    shutil.copy(root / "square.ipynb", root / "made-after-start.ipynb")
    output = run(kernel, "value = await NotebookRunner(path='made-after-start.ipynb', x=11)\n"
                         "import sys; sys.stdout.write(f'value {value}\\n')")
    assert "value 121" in output


def test_a_dropped_stream_fails_fast_then_recovers_in_the_same_kernel(streamed):
    """The stream drops while the caller cannot reconnect (its process is stopped): file operations
    fail with an I/O error within 5 s. Once the caller runs again it reconnects, and the same kernel
    (whose working directory is the share) reads and writes again, with no restart."""
    root, kernel, sidecar, process = streamed
    (root / "steady.txt").write_text("steady")
    assert run(kernel, "print(open('steady.txt').read())").strip() == "steady"
    process.send_signal(signal.SIGSTOP)
    try:
        killed = sidecar.exec_run(["python", "-c", KILL_UPSTREAMS])
        assert killed.output.strip() == b"1"  # the stream is gone (as when a network drops)
        time.sleep(0.3)
        start = time.monotonic()
        failure = kernel.execute("open('steady.txt').read()")
        failed_after = time.monotonic() - start
        print(f"stream drop: I/O error after {failed_after:.2f}s")
        assert failure.status == "error"
        assert failure.error["ename"] == "OSError" and "Input/output error" in failure.error["evalue"]
        assert failed_after <= 5
    finally:
        process.send_signal(signal.SIGCONT)
    start = time.monotonic()
    output = run(kernel, "import time\nstart = time.time()\nwhile True:\n    try:\n"
                         "        text = open('steady.txt').read(); break\n"
                         "    except OSError:\n        time.sleep(0.1)\n"
                         "open('after-recovery.txt', 'w').write(text + ' again')\nprint(round(time.time() - start, 3))")
    print(f"recovered after {time.monotonic() - start:.2f}s (in the kernel: {output.strip()}s)")
    assert (root / "after-recovery.txt").read_text() == "steady again"
