"""The caller's side of the file share: the jailed SFTP server, driven by OpenSSH's own `sftp`
client over a plain stream (`sftp -D`), checked against the disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cowait.fileshare.jail import Jail, JailError
from tests.support.fileshare import SFTPWire

pytestmark = pytest.mark.skipif(shutil.which("sftp") is None, reason="OpenSSH's sftp client is not installed")


def sftp(root: Path, commands: str, *server_args: str) -> subprocess.CompletedProcess:
    server = " ".join([sys.executable, "-m", "cowait.fileshare.sftp", str(root), *server_args])
    return subprocess.run(["sftp", "-D", server, "-b", "-"], input=commands, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    root = tmp_path / "share"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("hello\n")
    (root / "sub" / "b.txt").write_text("in sub\n")
    os.symlink("a.txt", root / "inner-link")
    os.symlink("/etc", root / "etc-link")
    os.symlink("../..", root / "sub" / "up")
    (tmp_path / "secret.txt").write_text("outside\n")
    return root


def test_read_write_rename_delete_list(shared, tmp_path):
    local = tmp_path / "local.bin"
    local.write_bytes(os.urandom(300_000))
    got = tmp_path / "got.txt"
    result = sftp(shared, f"get a.txt {got}\nput {local} up.bin\nrename up.bin moved.bin\nmkdir newdir\n"
                          f"put {local} newdir/x.bin\nrm newdir/x.bin\nrmdir newdir\nls -1 sub\n")
    assert result.returncode == 0, result.stderr
    assert got.read_text() == "hello\n"
    assert (shared / "moved.bin").read_bytes() == local.read_bytes()  # bit-exact on the caller's disk
    assert not (shared / "up.bin").exists() and not (shared / "newdir").exists()
    assert "sub/b.txt" in result.stdout


def test_bulk_transfers_are_bit_exact(shared, tmp_path):
    """Many pipelined READs and WRITEs of a file that is not a multiple of any block size, and an
    upload resumed where a shorter one ended."""
    data = os.urandom(5 * 1024 * 1024 + 12345)
    local, part, got = tmp_path / "big.bin", tmp_path / "part.bin", tmp_path / "got.bin"
    local.write_bytes(data)
    part.write_bytes(data[:3 * 1024 * 1024 + 7])
    result = sftp(shared, f"put {local} big.bin\nget big.bin {got}\nput {part} resumed.bin\n"
                          f"reput {local} resumed.bin\n")
    assert result.returncode == 0, result.stderr
    assert (shared / "big.bin").read_bytes() == data
    assert got.read_bytes() == data
    assert (shared / "resumed.bin").read_bytes() == data


def test_links_inside_are_followed(shared, tmp_path):
    got = tmp_path / "via-link.txt"
    assert sftp(shared, f"get inner-link {got}\n").returncode == 0
    assert got.read_text() == "hello\n"


@pytest.mark.parametrize("path", ["../secret.txt", "../../etc/hostname", "/etc/hostname", "etc-link/hostname",
                                  "sub/up/secret.txt", "sub/../../secret.txt"])
def test_escapes_are_refused(shared, tmp_path, path):
    target = tmp_path / "escaped.txt"
    result = sftp(shared, f"get {path} {target}\n")
    assert result.returncode != 0
    assert not target.exists()


def test_a_link_out_cannot_be_made(shared):
    result = sftp(shared, "symlink /etc/passwd sneaky\n")
    assert result.returncode != 0 and "Permission denied" in result.stderr
    assert not (shared / "sneaky").exists()
    result = sftp(shared, "symlink ../../etc/passwd sneaky\n")
    assert not (shared / "sneaky").exists()


def test_read_only_share(shared, tmp_path):
    local = tmp_path / "f.txt"
    local.write_text("x")
    refused = sftp(shared, f"put {local} new.txt\n", "--read-only")
    assert refused.returncode != 0 and not (shared / "new.txt").exists()
    got = tmp_path / "got.txt"
    assert sftp(shared, f"get a.txt {got}\n", "--read-only").returncode == 0


def test_excluded_patterns_are_hidden(shared, tmp_path):
    (shared / ".env").write_text("TOKEN=x\n")
    listing = sftp(shared, "ls -1a\n", "--exclude", ".env")
    assert ".env" not in listing.stdout and "a.txt" in listing.stdout
    got = tmp_path / "env"
    assert sftp(shared, f"get .env {got}\n", "--exclude", ".env").returncode != 0
    assert not got.exists()


def test_a_folder_swapped_for_a_link_during_an_operation_stays_inside(shared, tmp_path):
    """The walk holds the folder's descriptor: replacing the folder by a link to /etc afterwards
    does not redirect the operation."""
    jail = Jail(str(shared))
    try:
        with jail.parent("sub/b.txt", follow=False) as (fd, name):
            os.rename(shared / "sub", shared / "sub-moved")
            os.symlink("/etc", shared / "sub")
            assert os.stat(name, dir_fd=fd).st_size == len("in sub\n")  # still the real file
            with pytest.raises(FileNotFoundError):
                os.stat("hostname", dir_fd=fd)
        with pytest.raises(JailError):
            with jail.parent("sub/hostname"):
                pass
    finally:
        jail.close()


def test_reads_at_the_end_and_refused_writes_get_their_status(shared):
    """On the wire: a READ gets its data, a READ at the end of the file EOF, and a WRITE to a file
    opened for reading a failure, never a silent OK."""
    import struct

    wire = SFTPWire(str(shared))
    handle = wire.open(1, b"/a.txt", 1)  # for reading
    wire.send(wire.packet(5, 2, handle + struct.pack(">QI", 0, 100)))  # READ
    wire.send(wire.packet(5, 3, handle + struct.pack(">QI", 100, 100)))  # READ past the end
    wire.send(wire.packet(6, 4, handle + struct.pack(">Q", 0) + wire.string(b"no")))  # WRITE to a read-only handle
    assert wire.reply(2) == (103, wire.string(b"hello\n"))  # DATA
    kind, body = wire.reply(3)
    assert kind == 101 and struct.unpack(">I", body[:4])[0] == 1  # STATUS EOF
    kind, body = wire.reply(4)
    assert kind == 101 and struct.unpack(">I", body[:4])[0] not in (0, 1)  # STATUS failure
    wire.close()
    assert (shared / "a.txt").read_text() == "hello\n"


def test_gathered_replies_arrive_whole_and_in_order():
    """The local stream's send hands a burst of replies (headers and large data) to the socket in one
    sendmsg; a socket that takes only part of it each time still gets every byte, in order."""
    import random
    import socket
    import threading

    from cowait.fileshare.sftp import GatherSend

    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # partial sends
    parts = [random.Random(n).randbytes(size) for n, size in enumerate([13, 1 << 19, 0, 13, 1 << 19, 17] * 200)]
    got = bytearray()
    expected = sum(len(part) for part in parts)
    receiver = threading.Thread(target=lambda: [got.extend(theirs.recv(1 << 20)) for _ in iter(
        lambda: len(got) < expected, False)])
    receiver.start()
    GatherSend(ours).parts(parts)
    receiver.join(timeout=30)
    assert bytes(got) == b"".join(parts)
