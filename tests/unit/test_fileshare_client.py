"""Our FUSE client's SFTP side on real pipes: the data of a READ reply goes from the stream to the FUSE
device (here a pipe standing in for it) with the reply header in front, by splicing, or through
Python when the assembly pipe cannot hold it; a stream that ends in the middle of the data writes no
reply and fails the request, so it is made again on the next stream."""

from __future__ import annotations

import os
import random
import struct
import threading

import pytest

from cowait.fileshare import client
from cowait.fileshare.client import REPLIED, Sftp, StreamGone

pytestmark = pytest.mark.skipif(not hasattr(os, "splice"), reason="needs Linux splice")

_U32 = struct.Struct(">I")


class Server:
    """The caller's side of the stream, played by the test: pipes both ways, packets by hand."""

    def __init__(self) -> None:
        self.client_in, self.server_out = os.pipe()
        self.server_in, self.client_out = os.pipe()

    def packet(self) -> bytes:
        (length,) = _U32.unpack(self.read(4))
        return self.read(length)

    def read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            part = os.read(self.server_in, size - len(data))
            assert part, "the client closed the stream"
            data += part
        return data

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.server_out, view):]

    def start(self) -> Sftp:
        sftp = Sftp(self.client_in, self.client_out)
        replier = threading.Thread(target=lambda: (self.packet(), self.send(_U32.pack(5) + bytes([2]) + _U32.pack(3))))
        replier.start()
        sftp.start(timeout=5)
        replier.join()
        return sftp


def _sink() -> tuple[int, list[bytes], threading.Thread]:
    """A pipe standing in for the FUSE device, drained by a thread."""
    out, into = os.pipe()
    got: list[bytes] = []
    thread = threading.Thread(target=lambda: got.extend(iter(lambda: os.read(out, 1 << 20), b"")), daemon=True)
    thread.start()
    return into, got, thread


@pytest.mark.parametrize("assembly_pipe", [client.SPLICE_PIPE, 64 << 10], ids=["spliced", "through-python"])
def test_a_read_reply_reaches_the_device_whole_behind_its_header(monkeypatch, assembly_pipe):
    monkeypatch.setattr(client, "SPLICE_PIPE", assembly_pipe)
    server = Server()
    sftp = server.start()
    assert sftp._splice is not None  # the stream is a pipe: READ data is spliced
    device, got, drained = _sink()
    data = random.Random(3).randbytes(client.MAX_READ)
    results: list[object] = []
    reader = threading.Thread(target=lambda: results.append(sftp.read(b"h", 4096, len(data), reply_to=(device, 77))))
    reader.start()
    request = server.packet()
    assert request[0] == 5  # FXP_READ
    (request_id,) = _U32.unpack_from(request, 1)
    reply = struct.pack(">IBII", 9 + len(data), 103, request_id, len(data)) + data
    for start in range(0, len(reply), 3000):  # the stream delivers it in small pieces
        server.send(reply[start:start + 3000])
    reader.join(timeout=10)
    assert results == [REPLIED]
    os.close(device)
    drained.join(timeout=10)
    assert b"".join(got) == struct.pack("<IiQ", 16 + len(data), 0, 77) + data
    sftp.end()


def test_a_stream_that_ends_inside_the_data_writes_no_reply():
    server = Server()
    sftp = server.start()
    device, got, drained = _sink()
    failures: list[BaseException] = []

    def read() -> None:
        try:
            sftp.read(b"h", 0, 1 << 16, reply_to=(device, 78))
        except StreamGone as exc:
            failures.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    (request_id,) = _U32.unpack_from(server.packet(), 1)
    server.send(struct.pack(">IBII", 9 + (1 << 16), 103, request_id, 1 << 16) + bytes(1000))
    os.close(server.server_out)  # the stream ends 1,000 bytes into 64 KiB of data
    reader.join(timeout=10)
    assert len(failures) == 1  # the request fails as the stream's loss: made again on the next one
    os.close(device)
    drained.join(timeout=10)
    assert got == []
