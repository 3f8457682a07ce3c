"""The pod side of the file share as a FUSE client of our own (the sidecar's default; the caller's
COWAIT_SHARE_CLIENT=sshfs runs sshfs instead; see ``cowait.fileshare.relay``).

sshfs answers each write() with one SFTP WRITE and reports a 4 KiB block size, so small writes cost
a round trip through FUSE, sshfs and the stream each (see fileshare/README.md). This client:

- runs the kernel's writeback cache, so the kernel joins small writes into requests of up to 1 MiB;
- keeps the caller's edits visible with close-to-open coherence: a lookup that finds a file changed
  on the caller's side (size or mtime) while no handle here has it open gives it a new node id, so
  the kernel drops the inode whose size and pages it trusted;
- reports a 1 MiB block size (Python's open() buffers that much);
- speaks SFTP version 3 over any pair of file descriptors (the exec stream's stdin and stdout), and
  moves to a new stream when the caller offers one: files open across it are opened again by path;
  without a stream, operations wait up to WAIT seconds, then fail with an I/O error.

Semantics differ from sshfs in one way: while a process here keeps a file open, a change of its size
on the caller's side is not seen here; it is once no process here has it open (close-to-open, as
NFS).

Standard library only: it runs in the project image. Threads: FUSE workers block on their SFTP
request while one reader thread hands replies back.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import select
import stat
import struct
import sys
import termios
import threading
import time
from typing import Any, Iterator

# --- SFTP (version 3) ---------------------------------------------------------------------
FXP_INIT, FXP_VERSION, FXP_OPEN, FXP_CLOSE, FXP_READ, FXP_WRITE = 1, 2, 3, 4, 5, 6
FXP_LSTAT, FXP_FSTAT, FXP_SETSTAT, FXP_FSETSTAT, FXP_OPENDIR, FXP_READDIR = 7, 8, 9, 10, 11, 12
FXP_REMOVE, FXP_MKDIR, FXP_RMDIR, FXP_REALPATH, FXP_STAT, FXP_RENAME = 13, 14, 15, 16, 17, 18
FXP_READLINK, FXP_SYMLINK, FXP_EXTENDED = 19, 20, 200
FXP_STATUS, FXP_HANDLE, FXP_DATA, FXP_NAME, FXP_ATTRS, FXP_EXTENDED_REPLY = 101, 102, 103, 104, 105, 201
FXF_READ, FXF_WRITE, FXF_APPEND, FXF_CREAT, FXF_TRUNC, FXF_EXCL = 1, 2, 4, 8, 0x10, 0x20
ATTR_SIZE, ATTR_UIDGID, ATTR_PERMISSIONS, ATTR_ACMODTIME, ATTR_EXTENDED = 1, 2, 4, 8, 0x80000000
FX_OK, FX_EOF, FX_NO_SUCH_FILE, FX_PERMISSION_DENIED, FX_FAILURE = 0, 1, 2, 3, 4
FX_ERRNO = {FX_EOF: 0, FX_NO_SUCH_FILE: errno.ENOENT, FX_PERMISSION_DENIED: errno.EACCES,
            FX_FAILURE: errno.EIO, 5: errno.EBADMSG, 6: errno.ENOTCONN, 7: errno.ECONNABORTED,
            8: errno.EOPNOTSUPP}
_U32, _U64 = struct.Struct(">I"), struct.Struct(">Q")
_PACKET_HEAD = struct.Struct(">IBI")  # length, type, request id
OUT_HEADER = struct.Struct("<IiQ")  # FUSE's reply header: length, -errno, unique
MAX_READ = 1 << 19  # the largest READ the kernel sends: its reply fits in SPLICE_PIPE
SPLICE_PIPE = 1 << 20  # the pipe a READ reply is assembled in (the most a pipe holds without privileges)
REPLIED = object()  # an operation's result when its FUSE reply has been written already


class SftpError(OSError):
    """An SFTP status other than OK, as the errno the kernel gets."""


def _string(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data


class _Parser:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def u32(self) -> int:
        (value,) = _U32.unpack_from(self.data, self.pos)
        self.pos += 4
        return value

    def u64(self) -> int:
        (value,) = _U64.unpack_from(self.data, self.pos)
        self.pos += 8
        return value

    def string(self) -> bytes:
        return bytes(self.view())

    def view(self) -> memoryview:
        size = self.u32()
        value = memoryview(self.data)[self.pos:self.pos + size]
        self.pos += size
        return value

    def attrs(self) -> dict[str, int]:
        flags, found = self.u32(), {}
        if flags & ATTR_SIZE:
            found["size"] = self.u64()
        if flags & ATTR_UIDGID:
            found["uid"], found["gid"] = self.u32(), self.u32()
        if flags & ATTR_PERMISSIONS:
            found["mode"] = self.u32()
        if flags & ATTR_ACMODTIME:
            found["atime"], found["mtime"] = self.u32(), self.u32()
        if flags & ATTR_EXTENDED:
            for _ in range(self.u32()):
                self.string(), self.string()
        return found


def pack_attrs(size: int | None = None, mode: int | None = None, atime: int | None = None,
               mtime: int | None = None) -> bytes:
    flags, body = 0, b""
    if size is not None:
        flags |= ATTR_SIZE
        body += _U64.pack(size)
    if mode is not None:
        flags |= ATTR_PERMISSIONS
        body += _U32.pack(mode)
    if atime is not None and mtime is not None:
        flags |= ATTR_ACMODTIME
        body += _U32.pack(atime) + _U32.pack(mtime)
    return _U32.pack(flags) + body


class StreamGone(OSError):
    """The stream ended (or was replaced) before the request was answered."""

    def __init__(self) -> None:
        super().__init__(errno.EIO, "the file share's stream is gone")


class Sftp:
    """An SFTP client on a byte stream: ``request`` from any thread, replies read by one thread.

    Sending never blocks for good: the write end is non-blocking and a sender gives up as soon as
    the stream is ended (``end``), which is how a stalled stream is left for a new one.

    When the stream's read end is a pipe (an exec session's stdin), the data of a READ reply goes to
    the FUSE device without passing through Python: the reader thread writes the FUSE reply header
    into a pipe of its own, splices the data from the stream behind it, and splices the whole reply
    into the device (``read(..., reply_to=)``)."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd, self.wfd = rfd, wfd
        for fd in (rfd, wfd):  # a pipe of 1 MiB (the most without privileges): fewer wakeups per MiB
            try:
                if stat.S_ISFIFO(os.fstat(fd).st_mode):
                    fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ
            except OSError:
                pass
        os.set_blocking(wfd, False)
        self.lock = threading.Lock()      # the table of waiting requests
        self.sending = threading.Lock()   # one packet at a time on the stream
        self.next_id = 1
        self.waiting: dict[int, list[Any]] = {}
        self.extensions: dict[bytes, bytes] = {}
        self.closed = False
        self._wfd_open = True
        self._splice = _splice_pipe() if stat.S_ISFIFO(os.fstat(rfd).st_mode) else None

    def start(self, timeout: float = 10.0) -> None:
        """Exchange INIT and VERSION (EOFError if the other side is gone or silent), then read replies."""
        self._send([memoryview(_U32.pack(5) + bytes([FXP_INIT]) + _U32.pack(3))])
        if not select.select([self.rfd], [], [], timeout)[0]:
            raise EOFError
        kind, body = self._read_packet()
        if kind != FXP_VERSION:
            raise OSError(errno.EPROTO, "the share's server did not answer INIT")
        parser = _Parser(body, 4)
        while parser.pos < len(body):
            name = parser.string()
            self.extensions[name] = parser.string()
        threading.Thread(target=self._reader, name="sftp-replies", daemon=True).start()

    def _read_exactly(self, size: int) -> bytearray:
        buffer = bytearray(size)
        self._read_into(memoryview(buffer))
        return buffer

    def _read_into(self, view: memoryview) -> None:
        done, size = 0, len(view)
        while done < size:
            try:
                got = os.readv(self.rfd, [view[done:]])
            except BlockingIOError:  # one file description for both ends (a socket): non-blocking too
                select.select([self.rfd], [], [])
                continue
            if not got:
                raise EOFError
            done += got

    def _read_packet(self) -> tuple[int, memoryview]:
        (length,) = _U32.unpack(self._read_exactly(4))
        packet = self._read_exactly(length)
        return packet[0], memoryview(packet)[1:]

    def _reader(self) -> None:
        try:
            while True:
                length, kind, request = _PACKET_HEAD.unpack(self._read_exactly(_PACKET_HEAD.size))
                if length < 5:
                    raise OSError(errno.EPROTO, "a reply too short to be one")
                with self.lock:
                    slot = self.waiting.pop(request, None)
                if slot is not None and slot[3] is not None and kind == FXP_DATA and length >= 9:
                    try:
                        self._splice_reply(length - 9, *slot[3])
                    except BaseException:
                        slot[0].set()  # no reply: the request is made again on the next stream
                        raise
                    slot[1] = kind  # replied: no body
                    slot[0].set()
                    continue
                buffer = bytearray(length - 1)  # the body from the request id on
                buffer[:4] = _U32.pack(request)
                self._read_into(memoryview(buffer)[4:])
                if slot is not None:
                    slot[1], slot[2] = kind, memoryview(buffer)
                    slot[0].set()
        except (EOFError, OSError) as exc:
            if DEBUG:
                print("stream ended:", repr(exc), file=sys.stderr, flush=True)
        finally:
            self.end()
            os.close(self.rfd)
            if self._splice is not None:
                for fd in self._splice:
                    os.close(fd)

    def _splice_reply(self, size: int, fuse: int, unique: int) -> None:
        """Move the rest of a DATA reply (its data's length, then ``size`` bytes of data) from the
        stream into the FUSE device as the reply to request ``unique``."""
        (data,) = _U32.unpack(self._read_exactly(4))
        if data != size:
            raise OSError(errno.EPROTO, "a DATA reply whose lengths disagree")
        out, into = self._splice  # type: ignore[misc]
        os.write(into, OUT_HEADER.pack(16 + data, 0, unique))
        left, waited = data, False
        while left:
            try:
                moved = os.splice(self.rfd, into, left, flags=os.SPLICE_F_NONBLOCK)
            except BlockingIOError:
                if waited:  # the stream has data, so our pipe is full (the stream's pieces were small)
                    _write_reply(fuse, _drain(out) + self._read_exactly(left))
                    return
                select.select([self.rfd], [], [])
                waited = True
                continue
            waited = False
            if not moved:
                _drain(out)
                raise EOFError
            left -= moved
        try:
            left = 16 + data
            while left:  # the device takes a reply whole, in one call
                moved = os.splice(out, fuse, left, flags=os.SPLICE_F_MOVE)
                if not moved:
                    _drain(out)
                    break
                left -= moved
        except OSError as exc:  # the device consumed the reply (ENOENT: the request was interrupted)
            _drain(out)
            if exc.errno != errno.ENOENT:
                print(f"cowait file share: a read reply failed: {exc}", file=sys.stderr, flush=True)

    def end(self) -> None:
        """End this stream: pending and later requests fail with StreamGone, and the write end is
        closed (so the exec session behind it ends and the reader sees its end)."""
        with self.lock:
            self.closed = True
            pending, self.waiting = list(self.waiting.values()), {}
        for slot in pending:
            slot[0].set()
        with self.sending:  # senders leave within one poll once closed is set
            if self._wfd_open:
                self._wfd_open = False
                os.close(self.wfd)

    def discard(self) -> None:
        """End a stream whose reader never started."""
        self.end()
        os.close(self.rfd)

    def _send(self, parts: list[memoryview]) -> None:
        with self.sending:
            while parts:
                if self.closed or not self._wfd_open:
                    raise StreamGone()
                try:
                    written = os.writev(self.wfd, parts)
                except BlockingIOError:
                    select.select([], [self.wfd], [], 0.1)
                    continue
                except OSError:  # the other side is gone
                    raise StreamGone() from None
                while parts and written >= len(parts[0]):
                    written -= len(parts[0])
                    parts.pop(0)
                if parts:
                    parts[0] = parts[0][written:]

    def request(self, kind: int, payload: bytes, data: bytes | memoryview = b"") -> tuple[int, _Parser]:
        """Send one request (``payload``, then ``data``), wait for its reply: (reply kind, parser
        after the request id)."""
        return self._request(kind, payload, data, None)

    def _request(self, kind: int, payload: bytes, data: bytes | memoryview,
                 reply_to: tuple[int, int] | None) -> tuple[int, _Parser]:
        slot: list[Any] = [threading.Event(), None, None, reply_to]
        with self.lock:
            if self.closed:
                raise StreamGone()
            request = self.next_id
            self.next_id = (self.next_id + 1) & 0xFFFFFFFF
            self.waiting[request] = slot
        head = _U32.pack(len(payload) + len(data) + 5) + bytes([kind]) + _U32.pack(request) + payload
        try:
            self._send([memoryview(head), memoryview(data)] if data else [memoryview(head)])
        except StreamGone:
            self.end()
            raise
        slot[0].wait()
        if slot[1] is None:
            raise StreamGone()
        return slot[1], _Parser(slot[2], 4) if slot[2] is not None else None  # type: ignore[return-value]

    def _status(self, kind: int, parser: _Parser) -> None:
        if kind != FXP_STATUS:
            raise OSError(errno.EPROTO, "unexpected reply")
        code = parser.u32()
        if code != FX_OK:
            raise SftpError(FX_ERRNO.get(code, errno.EIO), parser.string().decode(errors="replace"))

    def ok(self, kind: int, payload: bytes) -> None:
        self._status(*self.request(kind, payload))

    def expect(self, kind: int, payload: bytes, wanted: int) -> _Parser:
        got, parser = self.request(kind, payload)
        if got != wanted:
            self._status(got, parser)
            raise OSError(errno.EPROTO, "unexpected reply")
        return parser

    def lstat(self, path: bytes) -> dict[str, int]:
        return self.expect(FXP_LSTAT, _string(path), FXP_ATTRS).attrs()

    def fstat(self, handle: bytes) -> dict[str, int]:
        return self.expect(FXP_FSTAT, _string(handle), FXP_ATTRS).attrs()

    def open(self, path: bytes, pflags: int, attrs: bytes = b"\0\0\0\0") -> bytes:
        return self.expect(FXP_OPEN, _string(path) + _U32.pack(pflags) + attrs, FXP_HANDLE).string()

    def close(self, handle: bytes) -> None:
        self.ok(FXP_CLOSE, _string(handle))

    def read(self, handle: bytes, offset: int, size: int,
             reply_to: tuple[int, int] | None = None) -> bytes | memoryview | object:
        """Up to ``size`` bytes at ``offset`` (b"" at the end of the file). With ``reply_to`` (the FUSE
        device, the request's unique) and a pipe as the stream, the data goes to the device as the
        reply and this returns REPLIED."""
        reply_to = reply_to if self._splice is not None else None
        kind, parser = self._request(FXP_READ, _string(handle) + _U64.pack(offset) + _U32.pack(size), b"", reply_to)
        if kind == FXP_DATA:
            return REPLIED if parser is None else parser.view()
        if kind == FXP_STATUS and _U32.unpack_from(parser.data, parser.pos)[0] == FX_EOF:
            return b""
        self._status(kind, parser)
        return b""

    def write(self, handle: bytes, offset: int, data: bytes | memoryview) -> None:
        self._status(*self.request(FXP_WRITE, _string(handle) + _U64.pack(offset) + _U32.pack(len(data)), data))

    def listdir(self, path: bytes) -> list[tuple[bytes, dict[str, int]]]:
        handle = self.expect(FXP_OPENDIR, _string(path), FXP_HANDLE).string()
        names: list[tuple[bytes, dict[str, int]]] = []
        try:
            while True:
                kind, parser = self.request(FXP_READDIR, _string(handle))
                if kind == FXP_STATUS and _U32.unpack_from(parser.data, parser.pos)[0] == FX_EOF:
                    return names
                if kind != FXP_NAME:
                    self._status(kind, parser)
                for _ in range(parser.u32()):
                    name = parser.string()
                    parser.string()  # the long name
                    names.append((name, parser.attrs()))
        finally:
            self.close(handle)

    def extended(self, name: bytes, payload: bytes) -> tuple[int, _Parser]:
        return self.request(FXP_EXTENDED, _string(name) + payload)


def _splice_pipe() -> tuple[int, int] | None:
    """A pipe that holds a whole READ reply (None where the pipe cannot be made that large: the
    data then passes through Python)."""
    out, into = os.pipe()
    try:
        fcntl.fcntl(into, 1031, SPLICE_PIPE)  # F_SETPIPE_SZ
    except OSError:
        os.close(out)
        os.close(into)
        return None
    return out, into


def _drain(fd: int) -> bytes:
    """Everything in pipe ``fd`` now."""
    waiting = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    parts = []
    while waiting > 0:
        part = os.read(fd, waiting)
        parts.append(part)
        waiting -= len(part)
    return b"".join(parts)


def _write_reply(fuse: int, reply: bytes | bytearray) -> None:
    try:
        os.write(fuse, reply)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            print(f"cowait file share: a read reply failed: {exc}", file=sys.stderr, flush=True)


# --- FUSE ---------------------------------------------------------------------------------
IN_HEADER = struct.Struct("<IIQQIIIHH")
ATTR = struct.Struct("<QQQQQQIIIIIIIIII")
ENTRY = struct.Struct("<QQQQII")
OPEN_OUT = struct.Struct("<QIi")
TIMEOUT_NS = 200_000_000   # attributes and names are valid 0.2 s (edits show within a second)
BLKSIZE = 1 << 20
MAX_WRITE = 1 << 20
ROOT = 1
WAIT = 3.0  # how long an operation waits for a stream before it fails with an I/O error
DEBUG = bool(os.environ.get("COWAIT_SHARE_DEBUG"))
OP = {1: "lookup", 2: "forget", 3: "getattr", 4: "setattr", 5: "readlink", 6: "symlink", 9: "mkdir",
      10: "unlink", 11: "rmdir", 12: "rename", 13: "link", 14: "open", 15: "read", 16: "write",
      17: "statfs", 18: "release", 20: "fsync", 25: "flush", 26: "init", 27: "opendir", 28: "readdir",
      29: "releasedir", 30: "fsyncdir", 35: "create", 36: "interrupt", 38: "destroy", 42: "batch_forget",
      44: "readdirplus", 45: "rename2"}
NO_REPLY = {"forget", "batch_forget", "interrupt"}


class Node:
    __slots__ = ("path", "lookups", "opened", "seen")

    def __init__(self, path: bytes) -> None:
        self.path = path
        self.lookups = 0
        self.opened = 0
        self.seen: tuple[int, int] | None = None  # (size, mtime) the kernel was last told


@contextlib.contextmanager
def _failure_means(code: int) -> Iterator[None]:
    """SFTP v3 has one status for most failures (asyncssh sends it for EEXIST, ENOTEMPTY and more):
    read it as ``code``, the likely cause for the operation."""
    try:
        yield
    except SftpError as exc:
        if exc.errno == errno.EIO:
            raise OSError(code, exc.strerror) from None
        raise


def _escapes(directory: bytes, target: bytes) -> bool:
    """Whether relative ``target``, read in ``directory`` (absolute in the share), leaves the share."""
    depth = len([part for part in directory.split(b"/") if part])
    for part in target.split(b"/"):
        if part == b"..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in (b"", b"."):
            depth += 1
    return False


class Handle:
    __slots__ = ("sftp", "handle", "node", "pflags", "lock")

    def __init__(self, sftp: Sftp, handle: bytes, node: int, pflags: int) -> None:
        self.sftp, self.handle, self.node, self.pflags = sftp, handle, node, pflags
        self.lock = threading.Lock()


class Client:
    """A FUSE file system on ``mount`` that serves the SFTP server's tree."""

    def __init__(self, mount: str, read_only: bool = False, sftp: Sftp | None = None) -> None:
        self._stream = sftp
        self._keep: Any = None  # what keeps the current stream's upstream alive (closed when replaced)
        self._order = -1
        self._attached = threading.Condition()
        self.down = False  # the last wait for a stream found none: later operations fail at once
        self.mount = mount
        self.read_only = read_only
        self.lock = threading.Lock()
        self.nodes: dict[int, Node] = {ROOT: Node(b"/")}
        self.nodes[ROOT].lookups = 1 << 62
        self.by_path: dict[bytes, int] = {b"/": ROOT}
        self.next_node = ROOT + 1
        self.handles: dict[int, Handle] = {}
        self.listings: dict[int, list[tuple[bytes, dict[str, int]]]] = {}
        self.next_fh = 1
        self.fd = -1
        self._request = threading.local()  # the FUSE request a worker thread is on (``unique``)

    # --- the stream -----------------------------------------------------------------------
    @property
    def sftp(self) -> Sftp:
        """The live stream; without one, wait up to WAIT seconds (only the first operation waits
        while none comes), then fail with an I/O error."""
        with self._attached:
            deadline = time.monotonic() + (0 if self.down else WAIT)
            while self._stream is None or self._stream.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.down = True
                    raise OSError(errno.EIO, "the file share's stream is gone")
                self._attached.wait(left)
            return self._stream

    def attach(self, sftp: Sftp, keep: Any = None, order: int = 0) -> None:
        """Serve from ``sftp`` (started) from now on, unless a stream offered later (a higher
        ``order``) is already attached; the stream given up ends."""
        with self._attached:
            if order < self._order:
                old, old_keep = sftp, keep
            else:
                old, old_keep = self._stream, self._keep
                self._stream, self._keep, self._order, self.down = sftp, keep, order, False
                self._attached.notify_all()
        if old_keep is not None:  # first: its upstream ends, which unblocks anything on its pipes
            old_keep.close()
        if old is not None:
            old.end()

    def _file(self, fh: int) -> tuple[Sftp, bytes]:
        """The stream and SFTP handle of an open file, opened again on a new stream if needed."""
        found = self.handles.get(fh)
        if found is None:
            raise OSError(errno.EBADF, "")
        sftp = self.sftp
        with found.lock:
            if found.sftp is not sftp:
                path = self._path(found.node)
                found.handle = sftp.open(path, found.pflags & ~(FXF_CREAT | FXF_TRUNC | FXF_EXCL))
                found.sftp = sftp
            return sftp, found.handle

    def _on_file(self, fh: int, call: Any) -> Any:
        """``call(sftp, handle)`` for an open file, once more on the next stream if the stream ended
        under it (reads and writes at an offset may be repeated: written-back data is not lost)."""
        try:
            return call(*self._file(fh))
        except StreamGone:
            return call(*self._file(fh))

    # --- mounting -------------------------------------------------------------------------
    def mount_fuse(self) -> None:
        self.fd = os.open("/dev/fuse", os.O_RDWR)
        libc = ctypes.CDLL(None, use_errno=True)
        options = f"fd={self.fd},rootmode=40000,user_id=0,group_id=0,allow_other,max_read={MAX_READ}".encode()
        flags = 1 if self.read_only else 0  # MS_RDONLY
        if libc.mount(b"cowait", self.mount.encode(), b"fuse.cowait", flags | 0x2 | 0x4, options) != 0:  # nosuid, nodev
            raise OSError(ctypes.get_errno(), f"mount {self.mount}")

    def serve(self, workers: int = 8) -> None:
        threads = [threading.Thread(target=self._work, name=f"fuse-{n}", daemon=True) for n in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _work(self) -> None:
        buffer = bytearray(MAX_WRITE + 8192)  # one per worker, reused: no page faults per request
        whole = memoryview(buffer)
        while True:
            try:
                request = whole[:os.readv(self.fd, [buffer])]
            except OSError as exc:
                if exc.errno == errno.ENODEV:  # unmounted
                    return
                if exc.errno in (errno.EINTR, errno.EAGAIN, errno.ENOENT):
                    continue
                raise
            length, op, unique, node, *_ = IN_HEADER.unpack_from(request)
            name = OP.get(op)
            if DEBUG:
                print("fuse", name or op, node, bytes(request[40:min(length, 80)]), file=sys.stderr, flush=True)
            try:
                if name is None:
                    raise OSError(errno.ENOSYS, "")
                self._request.unique = unique
                body = getattr(self, "op_" + name)(node, request[40:length])
            except OSError as exc:
                if name not in NO_REPLY:
                    self._reply(unique, error=exc.errno or errno.EIO)
                continue
            except Exception:  # noqa: BLE001 - a bug must not take the mount down
                import traceback
                traceback.print_exc()
                if name not in NO_REPLY:
                    self._reply(unique, error=errno.EIO)
                continue
            if name not in NO_REPLY and body is not REPLIED:
                self._reply(unique, body or b"")
            if name == "destroy":
                return

    def _reply(self, unique: int, body: bytes | memoryview = b"", error: int = 0) -> None:
        try:
            os.writev(self.fd, [OUT_HEADER.pack(16 + len(body), -error, unique), body])
        except OSError as exc:  # ENOENT: the request was interrupted; others: said, the worker goes on
            if exc.errno != errno.ENOENT:
                print(f"cowait file share: a reply failed: {exc}", file=sys.stderr, flush=True)

    # --- nodes ----------------------------------------------------------------------------
    def _path(self, node: int) -> bytes:
        with self.lock:
            found = self.nodes.get(node)
        if found is None or not found.path:  # forgotten, or removed on the caller's side
            raise OSError(errno.ESTALE, "")
        return found.path

    @staticmethod
    def _join(parent: bytes, name: bytes) -> bytes:
        if b"/" in name or name in (b"", b".", b".."):
            raise OSError(errno.EINVAL, "")
        return parent.rstrip(b"/") + b"/" + name

    def _attr(self, node: int, attrs: dict[str, int]) -> bytes:
        mode = attrs.get("mode", stat.S_IFREG | 0o644)
        size = attrs.get("size", 0)
        mtime = attrs.get("mtime", 0)
        return ATTR.pack(node, size, (size + 511) // 512, attrs.get("atime", mtime), mtime, mtime, 0, 0, 0,
                         mode, 1, attrs.get("uid", 0), attrs.get("gid", 0), 0, BLKSIZE, 0)

    def _entry(self, path: bytes, attrs: dict[str, int]) -> bytes:
        """A node for ``path`` (a new one if the caller's copy changed while nothing had it open)."""
        seen = (attrs.get("size", 0), attrs.get("mtime", 0))
        regular = stat.S_ISREG(attrs.get("mode", 0))
        with self.lock:
            number = self.by_path.get(path)
            found = self.nodes.get(number) if number is not None else None
            if found is not None and regular and found.opened == 0 and found.seen not in (None, seen):
                found = None  # retired: the kernel forgets the old node when its users are gone
            if found is None:
                number = self.next_node
                self.next_node += 1
                found = self.nodes[number] = Node(path)
                self.by_path[path] = number
            found.lookups += 1
            if found.seen is None or found.opened == 0:  # while open here it changes on a later lookup
                found.seen = seen
        return ENTRY.pack(number, 0, 0, 0, TIMEOUT_NS, TIMEOUT_NS) + self._attr(number, attrs)

    def _forget(self, node: int, count: int) -> None:
        with self.lock:
            found = self.nodes.get(node)
            if found is None or node == ROOT:
                return
            found.lookups -= count
            if found.lookups <= 0:
                del self.nodes[node]
                if self.by_path.get(found.path) == node:
                    del self.by_path[found.path]

    def _lookup(self, path: bytes) -> bytes:
        return self._entry(path, self.sftp.lstat(path))

    # --- operations -----------------------------------------------------------------------
    def op_init(self, node: int, body: memoryview) -> bytes:
        major, minor, readahead, _ = struct.unpack_from("<IIII", body)
        if major != 7:
            raise OSError(errno.EPROTO, "")
        # async read, atomic O_TRUNC, big writes, auto invalidate data, readdirplus (a listing
        # answers the lookups that follow it: find, ls -l), writeback cache, parallel dir ops, max pages
        flags = (1 << 0) | (1 << 3) | (1 << 5) | (1 << 12) | (1 << 13) | (1 << 16) | (1 << 18) | (1 << 22)
        return struct.pack("<IIIIHHIIHHII", 7, 31, max(readahead, 1 << 21), flags, 64, 48, MAX_WRITE, 1,
                           MAX_WRITE // 4096, 0, 0, 0) + bytes(24)  # fuse_init_out: 64 bytes

    def op_destroy(self, node: int, body: memoryview) -> bytes:
        return b""

    def op_interrupt(self, node: int, body: memoryview) -> None:
        return None

    def op_forget(self, node: int, body: memoryview) -> None:
        self._forget(node, struct.unpack_from("<Q", body)[0])

    def op_batch_forget(self, node: int, body: memoryview) -> None:
        (count,) = struct.unpack_from("<I", body)
        for index in range(count):
            forgotten, lookups = struct.unpack_from("<QQ", body, 8 + index * 16)
            self._forget(forgotten, lookups)

    def op_lookup(self, node: int, body: memoryview) -> bytes:
        name = bytes(body).rstrip(b"\0")
        try:
            return self._lookup(self._join(self._path(node), name))
        except SftpError as exc:
            if exc.errno == errno.ENOENT:  # a negative entry, cached as long as a positive one
                return ENTRY.pack(0, 0, TIMEOUT_NS // 10**9, 0, TIMEOUT_NS % 10**9, 0) + bytes(ATTR.size)
            raise

    def _open_file_of(self, node: int, fh: int | None) -> tuple[Sftp, bytes] | None:
        """An open handle on ``node``: ``fh`` if given, else any (a removed file is reached so)."""
        if fh is None or fh not in self.handles:
            with self.lock:
                fh = next((number for number, handle in self.handles.items() if handle.node == node), None)
        return self._file(fh) if fh is not None else None

    def _alive(self, node: int) -> bool:
        with self.lock:
            found = self.nodes.get(node)
        return found is not None and bool(found.path)

    def op_getattr(self, node: int, body: memoryview) -> bytes:
        flags, _, fh = struct.unpack_from("<IIQ", body)
        opened = self._open_file_of(node, fh if flags & 1 else None) if flags & 1 or not self._alive(node) else None
        if opened is not None:
            attrs = opened[0].fstat(opened[1])
        else:
            attrs = self.sftp.lstat(self._path(node))
        return struct.pack("<QII", 0, TIMEOUT_NS, 0) + self._attr(node, attrs)

    def op_setattr(self, node: int, body: memoryview) -> bytes:
        valid, _, fh, size, _, atime, mtime, _, atimensec, mtimensec, _, mode = struct.unpack_from(
            "<IIQQQQQQIIII", body)
        alive = self._alive(node)
        opened = self._open_file_of(node, fh if valid & (1 << 6) else None) \
            if valid & (1 << 6) or not alive else None
        if opened is None and not alive:  # removed here and open nowhere: nothing left to change
            return struct.pack("<QII", 0, TIMEOUT_NS, 0) + self._attr(node, {"mode": stat.S_IFREG | 0o644})
        path = b"" if opened is not None and not alive else self._path(node)

        def current() -> dict[str, int]:
            return opened[0].fstat(opened[1]) if opened is not None else self.sftp.lstat(path)

        new_size = size if valid & (1 << 3) else None
        new_mode = mode & 0o7777 if valid & 1 else None
        times = None
        if valid & ((1 << 4) | (1 << 5)):
            now, before = int(time.time()), current()
            atime = now if valid & (1 << 7) else (atime if valid & (1 << 4) else before.get("atime", now))
            mtime = now if valid & (1 << 8) else (mtime if valid & (1 << 5) else before.get("mtime", now))
            times = (atime, mtime)
        if new_size is not None or new_mode is not None or times is not None:
            attrs = pack_attrs(new_size, new_mode, *(times or (None, None)))
            if opened is not None:
                opened[0].ok(FXP_FSETSTAT, _string(opened[1]) + attrs)
            else:
                self.sftp.ok(FXP_SETSTAT, _string(path) + attrs)
        attrs = current()
        with self.lock:  # the kernel's own change (it sets the times after writing back): not the caller's
            found = self.nodes.get(node)
            if found is not None and stat.S_ISREG(attrs.get("mode", 0)):
                found.seen = (attrs.get("size", 0), attrs.get("mtime", 0))
        return struct.pack("<QII", 0, TIMEOUT_NS, 0) + self._attr(node, attrs)

    def op_readlink(self, node: int, body: memoryview) -> bytes:
        path = self._path(node)
        parser = self.sftp.expect(FXP_READLINK, _string(path), FXP_NAME)
        parser.u32()
        target = parser.string()
        # a link out of the shared folder would resolve in this container: refused, as the server
        # refuses to make one
        if target.startswith(b"/") or _escapes(os.path.dirname(path), target):
            raise OSError(errno.EPERM, "")
        return target

    def op_symlink(self, node: int, body: memoryview) -> bytes:
        name, target = bytes(body).split(b"\0")[:2]
        path = self._join(self._path(node), name)
        self.sftp.ok(FXP_SYMLINK, _string(path) + _string(target))  # the standard's order: link first
        return self._lookup(path)

    def op_mkdir(self, node: int, body: memoryview) -> bytes:
        mode, umask = struct.unpack_from("<II", body)
        path = self._join(self._path(node), bytes(body[8:]).rstrip(b"\0"))
        with _failure_means(errno.EEXIST):
            self.sftp.ok(FXP_MKDIR, _string(path) + pack_attrs(mode=mode & ~umask & 0o7777))
        return self._lookup(path)

    def op_unlink(self, node: int, body: memoryview) -> bytes:
        path = self._join(self._path(node), bytes(body).rstrip(b"\0"))
        self.sftp.ok(FXP_REMOVE, _string(path))
        self._retire(path)
        return b""

    def op_rmdir(self, node: int, body: memoryview) -> bytes:
        path = self._join(self._path(node), bytes(body).rstrip(b"\0"))
        with _failure_means(errno.ENOTEMPTY):
            self.sftp.ok(FXP_RMDIR, _string(path))
        self._retire(path)
        return b""

    def _retire(self, path: bytes) -> None:
        """``path`` is gone: its node (if the kernel still holds it) no longer stands for the path,
        and a file made there later gets a node of its own."""
        with self.lock:
            number = self.by_path.pop(path, None)
            if number is not None and number in self.nodes:
                self.nodes[number].path = b""

    def op_rename(self, node: int, body: memoryview) -> bytes:
        (newdir,) = struct.unpack_from("<Q", body)
        return self._rename(node, newdir, 0, bytes(body[8:]))

    def op_rename2(self, node: int, body: memoryview) -> bytes:
        newdir, flags = struct.unpack_from("<QI", body)
        return self._rename(node, newdir, flags, bytes(body[16:]))

    def _rename(self, node: int, newdir: int, flags: int, names: bytes) -> bytes:
        old, new = names.split(b"\0")[:2]
        source, target = self._join(self._path(node), old), self._join(self._path(newdir), new)
        if flags & ~1:  # RENAME_EXCHANGE, RENAME_WHITEOUT
            raise OSError(errno.EINVAL, "")
        if flags & 1 or b"posix-rename@openssh.com" not in self.sftp.extensions:
            self.sftp.ok(FXP_RENAME, _string(source) + _string(target))
        else:
            self.sftp._status(*self.sftp.extended(b"posix-rename@openssh.com", _string(source) + _string(target)))
        self._retire(target)  # what the rename replaced
        with self.lock:  # the nodes below the old name now live below the new one
            prefix = source + b"/"
            for path in [p for p in self.by_path if p == source or p.startswith(prefix)]:
                number = self.by_path.pop(path)
                moved = target + path[len(source):]
                self.nodes[number].path = moved
                self.by_path[moved] = number
        return b""

    def op_link(self, node: int, body: memoryview) -> bytes:
        (old,) = struct.unpack_from("<Q", body)
        path = self._join(self._path(node), bytes(body[8:]).rstrip(b"\0"))
        self.sftp._status(*self.sftp.extended(b"hardlink@openssh.com", _string(self._path(old)) + _string(path)))
        return self._lookup(path)

    def _pflags(self, flags: int) -> int:
        access = flags & os.O_ACCMODE
        # with the writeback cache the kernel reads pages it writes partially, and it places
        # O_APPEND writes itself: every writable handle is read-write, without append
        pflags = FXF_READ if access == os.O_RDONLY else FXF_READ | FXF_WRITE
        if flags & os.O_TRUNC:
            pflags |= FXF_TRUNC
        return pflags

    def _handle(self, sftp: Sftp, handle: bytes, node: int, pflags: int) -> int:
        with self.lock:
            fh = self.next_fh
            self.next_fh += 1
            self.handles[fh] = Handle(sftp, handle, node, pflags)
            found = self.nodes.get(node)
            if found is not None:
                found.opened += 1
        return fh

    def op_open(self, node: int, body: memoryview) -> bytes:
        (flags,) = struct.unpack_from("<I", body)
        pflags, sftp = self._pflags(flags), self.sftp
        handle = sftp.open(self._path(node), pflags)
        return OPEN_OUT.pack(self._handle(sftp, handle, node, pflags), 0, 0)

    def op_create(self, node: int, body: memoryview) -> bytes:
        flags, mode, umask = struct.unpack_from("<III", body)
        path = self._join(self._path(node), bytes(body[16:]).rstrip(b"\0"))
        pflags = self._pflags(flags) | FXF_CREAT | (FXF_EXCL if flags & os.O_EXCL else 0)
        sftp = self.sftp
        with _failure_means(errno.EEXIST if flags & os.O_EXCL else errno.EIO):
            handle = sftp.open(path, pflags, pack_attrs(mode=mode & ~umask & 0o7777))
        entry = self._lookup(path)
        created = ENTRY.unpack_from(entry)[0]
        return entry + OPEN_OUT.pack(self._handle(sftp, handle, created, pflags), 0, 0)

    def op_read(self, node: int, body: memoryview) -> bytes | memoryview | object:
        fh, offset, size = struct.unpack_from("<QQI", body)
        reply_to = (self.fd, self._request.unique)
        return self._on_file(fh, lambda sftp, handle: sftp.read(handle, offset, size, reply_to))

    def op_write(self, node: int, body: memoryview) -> bytes:
        fh, offset, size = struct.unpack_from("<QQI", body)
        self._on_file(fh, lambda sftp, handle: sftp.write(handle, offset, body[40:40 + size]))
        return struct.pack("<II", size, 0)

    def op_statfs(self, node: int, body: memoryview) -> bytes:
        if b"statvfs@openssh.com" in self.sftp.extensions:
            kind, parser = self.sftp.extended(b"statvfs@openssh.com", _string(self._path(node)))
            if kind == FXP_EXTENDED_REPLY:
                bsize, frsize, blocks, bfree, bavail, files, ffree = (parser.u64() for _ in range(7))
                parser.u64(), parser.u64(), parser.u64()  # favail, fsid, flag
                namemax = parser.u64()
                return struct.pack("<QQQQQIII", blocks, bfree, bavail, files, ffree, bsize, namemax, frsize) \
                    + bytes(28)
        return struct.pack("<QQQQQIII", 0, 0, 0, 0, 0, BLKSIZE, 255, BLKSIZE) + bytes(28)

    def op_flush(self, node: int, body: memoryview) -> bytes:
        return b""  # the kernel wrote its dirty pages back before it asked

    def op_release(self, node: int, body: memoryview) -> bytes:
        (fh,) = struct.unpack_from("<Q", body)
        with self.lock:
            released = self.handles.pop(fh, None)
            found = self.nodes.get(released.node) if released is not None else None
            if found is not None:
                found.opened -= 1  # at once: the next lookup may find the caller's edits
        if released is not None and not released.sftp.closed:
            released.sftp.close(released.handle)
        return b""

    def op_fsync(self, node: int, body: memoryview) -> bytes:
        (fh,) = struct.unpack_from("<Q", body)
        if fh in self.handles:
            sftp, handle = self._file(fh)
            if b"fsync@openssh.com" in sftp.extensions:
                sftp._status(*sftp.extended(b"fsync@openssh.com", _string(handle)))
        return b""

    def op_opendir(self, node: int, body: memoryview) -> bytes:
        listing = self.sftp.listdir(self._path(node))
        with self.lock:
            fh = self.next_fh
            self.next_fh += 1
            self.listings[fh] = listing
        return OPEN_OUT.pack(fh, 0, 0)

    def op_readdir(self, node: int, body: memoryview) -> bytes:
        fh, offset, size = struct.unpack_from("<QQI", body)
        listing = self.listings.get(fh, [])
        out = bytearray()
        for index in range(offset, len(listing)):
            name, attrs = listing[index]
            record = struct.pack("<QQII", 0xFFFFFFFF, index + 1, len(name), stat.S_IFMT(attrs.get("mode", 0)) >> 12)
            record += name + bytes((8 - (len(record) + len(name)) % 8) % 8)
            if len(out) + len(record) > size:
                break
            out += record
        return bytes(out)

    def op_readdirplus(self, node: int, body: memoryview) -> bytes:
        fh, offset, size = struct.unpack_from("<QQI", body)
        listing = self.listings.get(fh, [])
        directory = self._path(node)
        out = bytearray()
        for index in range(offset, len(listing)):
            name, attrs = listing[index]
            kind = stat.S_IFMT(attrs.get("mode", 0)) >> 12
            dirent = struct.pack("<QQII", 0xFFFFFFFF, index + 1, len(name), kind) + name
            dirent += bytes((8 - len(dirent) % 8) % 8)
            if len(out) + ENTRY.size + ATTR.size + len(dirent) > size:
                break
            if name in (b".", b"..") or not attrs:  # no node: the kernel looks these up itself
                entry = bytes(ENTRY.size + ATTR.size)
            else:
                entry = self._entry(self._join(directory, name), attrs)
            out += entry + dirent
        return bytes(out)

    def op_releasedir(self, node: int, body: memoryview) -> bytes:
        (fh,) = struct.unpack_from("<Q", body)
        with self.lock:
            self.listings.pop(fh, None)
        return b""

    def op_fsyncdir(self, node: int, body: memoryview) -> bytes:
        return b""

