"""The share's bulk path: READ and WRITE requests answered without asyncssh's per-packet work, and
writes that continue one another joined into one ``pwritev``; every other request goes to asyncssh.

Why: sshfs sends each write system call of a program in the container as its own SFTP WRITE (a
``head -c`` or a CSV writer writes 4-8 KiB at a time: 65,536 requests for 256 MB). asyncssh spends
about 20 µs of Python on each (an ``SSHPacket``, a coroutine, a debug line, the reply encoded and
copied twice), which made the server, not the stream, the bottleneck of bulk transfers.

Consistency is the same as one request at a time:
- a WRITE's reply leaves only after its bytes are in the file (a joined run is written, then its
  replies are sent; when the run's write fails, each of its requests is done again on its own by
  asyncssh, so each gets its own status);
- a run ends before any other request is handled and at the end of every block read from the
  stream, so nothing waits for more input while it is buffered, and every request sees every
  earlier write done.
"""

from __future__ import annotations

import os
import struct
from typing import Any

from asyncssh.misc import Error
from asyncssh.packet import PacketDecodeError, SSHPacket
from asyncssh.sftp import MAX_SFTP_PACKET_LEN, SFTPBadMessage, SFTPServerHandler

FXP_READ, FXP_WRITE, FXP_STATUS, FXP_DATA = 5, 6, 101, 103

_U32 = struct.Struct(">I")
_ID_AND_LEN = struct.Struct(">II")          # request id, handle length
_OFFSET_AND_LEN = struct.Struct(">QI")      # offset, data length (WRITE) or wanted length (READ)
_STATUS_OK = struct.Struct(">IBIIII")       # length 17, FXP_STATUS, id, FX_OK, "" message, "" language
_DATA_HEAD = struct.Struct(">IBII")         # length, FXP_DATA, id, data length

READ_BLOCK = 1 << 20     # bytes taken from the stream at a time
RUN_BYTES = 1 << 20      # a run of joined writes is written once it holds this much
RUN_PIECES = 512         # or this many pieces (Linux takes up to 1,024 in one pwritev)


class _Run:
    """Consecutive WRITE requests to one file, each starting where the last one ended."""

    __slots__ = ("file", "offset", "end", "pieces", "packets", "ids")

    def __init__(self, file: Any, offset: int) -> None:
        self.file = file
        self.offset = offset
        self.end = offset
        self.pieces: list[memoryview] = []
        self.packets: list[memoryview] = []
        self.ids: list[int] = []


class BulkSFTPHandler(SFTPServerHandler):
    """asyncssh's SFTP server session, with READ and WRITE on plain positional files handled here.

    Files qualify when the server opened them as objects with a ``fd`` and a false ``append``
    (``cowait.fileshare.sftp``'s handles); others, and every request this path cannot parse, go
    through asyncssh unchanged, which also produces every error reply.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._run: _Run | None = None

    async def recv_packets(self) -> None:
        try:
            await self._serve()
        except PacketDecodeError as exc:
            await self._cleanup(SFTPBadMessage(str(exc)))
        except EOFError:
            await self._end_run()
            await self._cleanup(None)
        except (OSError, Error) as exc:
            await self._cleanup(exc)

    async def _serve(self) -> None:
        read = self._reader.stream.read  # type: ignore[union-attr]  # sftp._Reader: a plain stream
        rest = b""
        while True:
            block = await read(READ_BLOCK)
            if not block:
                raise EOFError
            data = rest + block if rest else block
            view = memoryview(data)
            size, pos = len(data), 0
            while size - pos >= 4:
                (length,) = _U32.unpack_from(data, pos)
                if length > MAX_SFTP_PACKET_LEN:
                    raise SFTPBadMessage("Max packet size exceeded")
                start, end = pos + 4, pos + 4 + length
                if end > size:
                    break
                kind = data[start] if length else -1
                if self._version == 3 and kind == FXP_WRITE:
                    taken = self._take_write(data, view, start, end)
                    if taken is None:  # a run of other writes is open: it ends first
                        await self._end_run()
                        taken = self._take_write(data, view, start, end)
                    if taken:
                        pos = end
                        continue
                await self._end_run()
                if not (self._version == 3 and kind == FXP_READ and self._answer_read(data, start, end)):
                    await self._handle(data[start:end])
                pos = end
            rest = data[pos:]
            await self._end_run()

    async def _handle(self, body: bytes | memoryview) -> None:
        """One request the asyncssh way."""
        packet = SSHPacket(bytes(body))
        kind = packet.get_byte()
        request = packet.get_uint32()
        self.log_received_packet(kind, request, packet)
        await self._process_packet(kind, request, packet)

    def _file(self, handle: bytes) -> Any:
        found = self._file_handles.get(handle)
        if found is None or getattr(found, "append", True) or getattr(found, "fd", -1) < 0:
            return None
        return found

    def _take_write(self, data: bytes, view: memoryview, start: int, end: int) -> bool | None:
        """Add a WRITE to the open run: True if taken, None if another run must end first, False if
        asyncssh is to handle it."""
        request, handle_len = _ID_AND_LEN.unpack_from(data, start + 1)
        at = start + 9 + handle_len
        if at + 12 > end:
            return False
        offset, data_len = _OFFSET_AND_LEN.unpack_from(data, at)
        at += 12
        if at + data_len != end:
            return False
        file = self._file(data[start + 9:start + 9 + handle_len])
        if file is None:
            return False
        run = self._run
        if run is None:
            run = self._run = _Run(file, offset)
        elif run.file is not file or run.end != offset or \
                run.end - run.offset >= RUN_BYTES or len(run.pieces) >= RUN_PIECES:
            return None
        run.pieces.append(view[at:end])
        run.packets.append(view[start:end])
        run.ids.append(request)
        run.end += data_len
        return True

    async def _end_run(self) -> None:
        """Write the open run and answer its requests (each on its own, through asyncssh, when the
        joined write fails)."""
        run, self._run = self._run, None
        if run is None:
            return
        try:
            _pwrite_all(run.file.fd, run.pieces, run.offset)
        except OSError:
            for packet in run.packets:
                await self._handle(packet)
            return
        self._writer.write(b"".join([_STATUS_OK.pack(17, FXP_STATUS, request, 0, 0, 0) for request in run.ids]))

    def _answer_read(self, data: bytes, start: int, end: int) -> bool:
        """Answer a READ here; False leaves it to asyncssh (errors, end of file, odd requests)."""
        request, handle_len = _ID_AND_LEN.unpack_from(data, start + 1)
        at = start + 9 + handle_len
        if at + 12 != end:
            return False
        offset, wanted = _OFFSET_AND_LEN.unpack_from(data, at)
        file = self._file(data[start + 9:start + 9 + handle_len])
        if file is None:
            return False
        try:
            chunk = os.pread(file.fd, wanted, offset)
        except OSError:
            return False
        if not chunk:
            return False
        self._writer.write(_DATA_HEAD.pack(len(chunk) + 9, FXP_DATA, request, len(chunk)))
        self._writer.write(chunk)
        return True


def _pwrite_all(fd: int, pieces: list[memoryview], offset: int) -> None:
    total = sum(len(piece) for piece in pieces)
    done = os.pwritev(fd, pieces, offset)
    if done < total:  # a short write (rare on regular files): the rest one call at a time
        rest = memoryview(b"".join(pieces))[done:]
        while rest:
            written = os.pwrite(fd, rest, offset + done)
            done += written
            rest = rest[written:]
