"""The share's bulk path (cowait/fileshare/bulk.py) on the wire: joined writes land bit-exact and
each gets its own reply, a request after writes sees them, and failures keep their statuses."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from tests.support.fileshare import SFTPWire

WRITE, READ, CLOSE, FSTAT = 6, 5, 4, 8
OK, EOF = 0, 1
CREATE_WRITE, READ_ONLY, READ_WRITE = 0x1a, 0x1, 0x1b  # WRITE|CREAT|TRUNC; READ; READ|WRITE|CREAT|TRUNC


def _write(wire: SFTPWire, pktid: int, handle: bytes, offset: int, data: bytes) -> bytes:
    return wire.packet(WRITE, pktid, handle + struct.pack(">Q", offset) + wire.string(data))


def _status(wire: SFTPWire, pktid: int) -> int:
    kind, body = wire.reply(pktid)
    assert kind == 101, (pktid, kind)
    return struct.unpack(">I", body[:4])[0]


def test_pipelined_writes_in_odd_chunks_land_exactly_and_each_is_answered(tmp_path: Path):
    """4 KiB writes (as `head -c` sends them) in a stream cut at odd places, a write that goes back
    and one that skips ahead (each ends a run), then a READ of the whole in the same burst."""
    data = bytearray(os.urandom(600 * 4096 + 123))
    wire = SFTPWire(str(tmp_path))
    handle = wire.open(1, b"/out.bin", READ_WRITE)
    requests = [_write(wire, 10 + index, handle, index * 4096, bytes(data[index * 4096:(index + 1) * 4096]))
                for index in range(601)]
    data[5000:5010] = b"overwrite!"                   # back into the first run
    requests.append(_write(wire, 700, handle, 5000, b"overwrite!"))
    requests.append(_write(wire, 701, handle, len(data) + 100, b"tail"))  # a hole before it
    data += b"\0" * 100 + b"tail"
    requests.append(wire.packet(READ, 702, handle + struct.pack(">QI", 0, len(data))))
    stream = b"".join(requests)
    for start in range(0, len(stream), 65_537):      # packets cut across chunks
        wire.send(stream[start:start + 65_537])
    assert wire.reply(702) == (103, wire.string(bytes(data)))  # the READ saw every write before it
    assert [_status(wire, pktid) for pktid in [*range(10, 611), 700, 701]] == [OK] * 603
    writes = [key for key in wire.order if 10 <= key <= 701]
    assert writes == sorted(writes)                   # answered in the order sent
    wire.close()
    assert (tmp_path / "out.bin").read_bytes() == bytes(data)


def test_a_failed_run_answers_each_write_with_its_failure_and_the_session_goes_on(tmp_path: Path):
    (tmp_path / "in.txt").write_text("hello\n")
    wire = SFTPWire(str(tmp_path))
    read_only = wire.open(1, b"/in.txt", READ_ONLY)
    wire.send(b"".join(_write(wire, 10 + index, read_only, index * 4096, b"x" * 4096) for index in range(5)))
    assert all(_status(wire, pktid) not in (OK, EOF) for pktid in range(10, 15))
    writable = wire.open(2, b"/out.txt", CREATE_WRITE)
    wire.send(_write(wire, 20, writable, 0, b"still serving"))
    wire.send(wire.packet(CLOSE, 21, writable))
    assert _status(wire, 20) == OK and _status(wire, 21) == OK
    wire.send(wire.packet(READ, 22, read_only + struct.pack(">QI", 6, 10)))  # at the end: EOF, not data
    assert _status(wire, 22) == EOF
    wire.close()
    assert (tmp_path / "in.txt").read_text() == "hello\n"
    assert (tmp_path / "out.txt").read_text() == "still serving"


def test_a_stat_after_writes_in_the_same_burst_sees_their_size(tmp_path: Path):
    wire = SFTPWire(str(tmp_path))
    handle = wire.open(1, b"/sized.bin", CREATE_WRITE)
    wire.send(b"".join([_write(wire, 10 + index, handle, index * 8192, b"y" * 8192) for index in range(16)]
                       + [wire.packet(FSTAT, 30, handle)]))
    kind, body = wire.reply(30)
    assert kind == 105  # ATTRS: flags, then the size first
    flags, size = struct.unpack(">IQ", body[:12])
    assert flags & 1 and size == 16 * 8192
    wire.close()
