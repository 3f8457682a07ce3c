"""Helpers of the file share tests."""

# Run in a share sidecar (`python -c`): kill the relay's upstream processes, which cuts the exec
# stream from the caller as a network failure would; prints how many there were.
KILL_UPSTREAMS = """import os, signal
pids = [p for p in os.listdir('/proc') if p.isdigit()
        and b'relay\\0upstream' in open(f'/proc/{p}/cmdline', 'rb').read()]
for pid in pids:
    os.kill(int(pid), signal.SIGKILL)
print(len(pids))"""


class SFTPWire:
    """A client of the share's SFTP server on the wire (``serve_chunks`` in a thread): requests go in
    as chunks of any size, replies are collected by request id (the VERSION reply under -1)."""

    def __init__(self, root: str) -> None:
        import queue
        import threading

        from cowait.fileshare.sftp import serve_chunks

        self.chunks: queue.Queue = queue.Queue()
        self.received = bytearray()
        self.replies: dict[int, tuple[int, bytes]] = {}
        self.order: list[int] = []
        self.arrived = threading.Condition()
        self.thread = threading.Thread(target=serve_chunks, args=(root, iter(self.chunks.get, None), self._send),
                                       daemon=True)
        self.thread.start()
        self.send(self.packet(1, 3, b""))  # INIT, version 3 (it has no request id: the 3 is the version)
        self.reply(-1)

    @staticmethod
    def string(data: bytes) -> bytes:
        import struct

        return struct.pack(">I", len(data)) + data

    @staticmethod
    def packet(kind: int, pktid: int, body: bytes) -> bytes:
        import struct

        return struct.pack(">IBI", len(body) + 5, kind, pktid) + body

    def send(self, data: bytes) -> None:
        self.chunks.put(data)

    def _send(self, data) -> None:
        import struct

        with self.arrived:
            self.received.extend(data)
            while len(self.received) >= 4 and len(self.received) - 4 >= struct.unpack_from(">I", self.received)[0]:
                size = struct.unpack_from(">I", self.received)[0]
                kind, pktid = self.received[4], struct.unpack_from(">I", self.received, 5)[0]
                key = pktid if kind != 2 else -1
                self.replies[key] = (kind, bytes(self.received[9:4 + size]))
                self.order.append(key)
                del self.received[:4 + size]
            self.arrived.notify_all()

    def reply(self, pktid: int) -> tuple[int, bytes]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: pktid in self.replies, timeout=10), self.replies
            return self.replies[pktid]

    def open(self, pktid: int, path: bytes, pflags: int) -> bytes:
        """OPEN ``path`` with SFTP ``pflags``; the handle, as a string ready for the next requests."""
        import struct

        self.send(self.packet(3, pktid, self.string(path) + struct.pack(">II", pflags, 0)))
        kind, body = self.reply(pktid)
        assert kind == 102, (kind, body)
        return self.string(body[4:])

    def close(self) -> None:
        self.chunks.put(None)
        self.thread.join(timeout=10)
