"""The local file share reads Docker's multiplexed exec stream itself: the stdout payloads come out
complete and in order, whatever the socket's read boundaries; stderr is dropped."""

from __future__ import annotations

import os
import socket
import threading

from cowait.fileshare.local import _stdout_frames


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def test_frames_split_anywhere_come_out_complete_and_in_order():
    payloads = [os.urandom(size) for size in (1, 7, 4096, 70000, 3)]
    wire = b"".join(frame(1, p) + frame(2, b"noise on stderr") for p in payloads)
    left, right = socket.socketpair()

    def send() -> None:
        for start in range(0, len(wire), 4093):  # boundaries inside headers and payloads
            left.sendall(wire[start:start + 4093])
        left.close()

    threading.Thread(target=send).start()
    assert b"".join(_stdout_frames(right)) == b"".join(payloads)
    right.close()
