"""The caller's side of the file share: an SFTP server (asyncssh's protocol implementation) over a
plain byte stream, jailed to one folder, optionally read-only and with hidden patterns."""

from __future__ import annotations

import asyncio
import collections
import errno
import fnmatch
import functools
import grp
import logging
import os
import pwd
import socket
import sys
import threading
from typing import Any, AsyncIterator, Callable, Iterable

import asyncssh
from asyncssh.sftp import (FXF_APPEND, FXF_CREAT, FXF_EXCL, FXF_READ, FXF_TRUNC, FXF_WRITE, SFTPAttrs,
                           SFTPName, SFTPServer)

from cowait.fileshare.bulk import BulkSFTPHandler
from cowait.fileshare.jail import Jail, normalize

SFTP_VERSION = 3
log = logging.getLogger("cowait.fileshare")


def _text(path: bytes) -> str:
    return os.fsdecode(path)


@functools.lru_cache(maxsize=64)
def _user(uid: int | None) -> str:
    try:
        return pwd.getpwuid(uid).pw_name if uid is not None else ""
    except KeyError:
        return str(uid)


@functools.lru_cache(maxsize=64)
def _group(gid: int | None) -> str:
    try:
        return grp.getgrgid(gid).gr_name if gid is not None else ""
    except KeyError:
        return str(gid)


def local_attrs(info: os.stat_result) -> SFTPAttrs:
    """What SFTP version 3 carries of a local stat (asyncssh's own conversion looks the user and group
    up in the password database for every file, which dominates a listing of thousands)."""
    return SFTPAttrs(type=_filetype(info.st_mode), size=info.st_size, uid=info.st_uid, gid=info.st_gid,
                     owner=_user(info.st_uid), group=_group(info.st_gid), permissions=info.st_mode,
                     atime=int(info.st_atime), mtime=int(info.st_mtime), nlink=info.st_nlink)


def _filetype(mode: int) -> int:
    from asyncssh.sftp import _stat_mode_to_filetype

    return _stat_mode_to_filetype(mode)


class JailedSFTPServer(SFTPServer):
    """Serves ``jail``'s folder; every operation goes through the jail's descriptor walk."""

    def __init__(self, chan: Any, jail: Jail, read_only: bool = False, exclude: list[str] | None = None) -> None:
        super().__init__(chan)
        self.jail = jail
        self.read_only = read_only
        self.exclude = list(exclude or [])

    # --- policy ---------------------------------------------------------------------------
    def _check(self, path: bytes, write: bool = False) -> str:
        text = _text(path)
        relative = "/".join(normalize(text))
        for pattern in self.exclude:
            name = relative.rsplit("/", 1)[-1]
            if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(name, pattern) or \
                    relative.startswith(pattern.rstrip("/") + "/"):
                raise FileNotFoundError(errno.ENOENT, "hidden by fileshare.exclude", text)
        if write and self.read_only:
            raise PermissionError(errno.EROFS, "the share is read-only", text)
        return text

    def format_user(self, uid: int | None) -> str:
        return _user(uid)

    def format_group(self, gid: int | None) -> str:
        return _group(gid)

    # --- paths ----------------------------------------------------------------------------
    def map_path(self, path: bytes) -> bytes:
        return path

    def reverse_map_path(self, path: bytes) -> bytes:
        return path

    def realpath(self, path: bytes) -> bytes:
        return os.fsencode(self.jail.relative(_text(path)))

    # --- metadata -------------------------------------------------------------------------
    def stat(self, path: bytes) -> Any:
        with self.jail.parent(self._check(path), follow=True) as (fd, name):
            return local_attrs(os.stat(name, dir_fd=fd, follow_symlinks=False))

    def lstat(self, path: bytes) -> Any:
        with self.jail.parent(self._check(path), follow=False) as (fd, name):
            return local_attrs(os.stat(name, dir_fd=fd, follow_symlinks=False))

    def setstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        self._setstat(path, attrs, follow=True)

    def lsetstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        self._setstat(path, attrs, follow=False)

    def _setstat(self, path: bytes, attrs: SFTPAttrs, follow: bool) -> None:
        with self.jail.parent(self._check(path, write=True), follow=follow) as (fd, name):
            if attrs.size is not None:
                handle = os.open(name, os.O_WRONLY | os.O_NOFOLLOW, dir_fd=fd)
                try:
                    os.ftruncate(handle, attrs.size)
                finally:
                    os.close(handle)
            if attrs.permissions is not None:
                os.chmod(name, attrs.permissions & 0o7777, dir_fd=fd, follow_symlinks=False) \
                    if not follow else os.chmod(name, attrs.permissions & 0o7777, dir_fd=fd)
            if attrs.atime is not None and attrs.mtime is not None:
                os.utime(name, (attrs.atime, attrs.mtime), dir_fd=fd, follow_symlinks=False)

    def statvfs(self, path: bytes) -> Any:
        return os.fstatvfs(self.jail.root_fd)

    # --- files ----------------------------------------------------------------------------
    def open(self, path: bytes, pflags: int, attrs: SFTPAttrs) -> object:
        write = bool(pflags & (FXF_WRITE | FXF_APPEND | FXF_CREAT | FXF_TRUNC))
        text = self._check(path, write=write)
        if pflags & FXF_READ and pflags & FXF_WRITE:
            flags = os.O_RDWR
        elif pflags & FXF_WRITE:
            flags = os.O_WRONLY
        else:
            flags = os.O_RDONLY
        if pflags & FXF_APPEND:
            flags |= os.O_APPEND
        if pflags & FXF_CREAT:
            flags |= os.O_CREAT
        if pflags & FXF_TRUNC:
            flags |= os.O_TRUNC
        if pflags & FXF_EXCL:
            flags |= os.O_EXCL
        permissions = attrs.permissions if attrs.permissions is not None else 0o644
        with self.jail.parent(text, follow=True) as (fd, name):
            return _Handle(os.open(name, flags | os.O_NOFOLLOW, permissions & 0o7777, dir_fd=fd),
                           append=bool(flags & os.O_APPEND))

    def read(self, file_obj: Any, offset: int, size: int) -> bytes:
        return os.pread(file_obj.fileno(), size, offset)

    def write(self, file_obj: Any, offset: int, data: bytes) -> int:
        if file_obj.append:
            return os.write(file_obj.fileno(), data)
        return os.pwrite(file_obj.fileno(), data, offset)

    def fsync(self, file_obj: Any) -> None:
        os.fsync(file_obj.fileno())

    # --- names ----------------------------------------------------------------------------
    async def scandir(self, path: bytes) -> AsyncIterator[SFTPName]:
        text = self._check(path)
        with self.jail.parent(text, follow=True) as (fd, name):
            folder = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        try:
            names = [".", ".."] + sorted(os.listdir(folder))
            prefix = "/".join(normalize(text))
            for entry in names:
                relative = f"{prefix}/{entry}" if prefix else entry
                if self.exclude and entry not in (".", "..") and self._hidden(relative):
                    continue
                try:
                    info = os.stat(entry, dir_fd=folder, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                name = SFTPName(os.fsencode(entry), attrs=local_attrs(info))
                self.format_longname(name)
                yield name
        finally:
            os.close(folder)

    def _hidden(self, relative: str) -> bool:
        try:
            self._check(os.fsencode(relative))
        except FileNotFoundError:
            return True
        return False

    def remove(self, path: bytes) -> None:
        with self.jail.parent(self._check(path, write=True), follow=False) as (fd, name):
            os.unlink(name, dir_fd=fd)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        with self.jail.parent(self._check(newpath, write=True), follow=False) as (new_fd, new_name):
            try:
                os.stat(new_name, dir_fd=new_fd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            else:
                raise FileExistsError(errno.EEXIST, "target exists", _text(newpath))
        self.posix_rename(oldpath, newpath)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        with self.jail.parent(self._check(oldpath, write=True), follow=False) as (old_fd, old_name), \
                self.jail.parent(self._check(newpath, write=True), follow=False) as (new_fd, new_name):
            os.replace(old_name, new_name, src_dir_fd=old_fd, dst_dir_fd=new_fd)

    def mkdir(self, path: bytes, attrs: SFTPAttrs) -> None:
        mode = attrs.permissions if attrs.permissions is not None else 0o777
        with self.jail.parent(self._check(path, write=True), follow=False) as (fd, name):
            os.mkdir(name, mode & 0o7777, dir_fd=fd)

    def rmdir(self, path: bytes) -> None:
        with self.jail.parent(self._check(path, write=True), follow=False) as (fd, name):
            os.rmdir(name, dir_fd=fd)

    def readlink(self, path: bytes) -> bytes:
        with self.jail.parent(self._check(path), follow=False) as (fd, name):
            return os.fsencode(os.readlink(name, dir_fd=fd))

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        # OpenSSH's sftp-server (which sshfs expects) sends the arguments swapped: target first.
        target, link = _text(oldpath), self._check(newpath, write=True)
        joined = os.path.normpath(os.path.join(os.path.dirname("/".join(normalize(link))), target))
        if target.startswith("/") or joined == ".." or joined.startswith("../"):
            raise PermissionError(errno.EACCES, "a link must point inside the shared folder", target)
        with self.jail.parent(link, follow=False) as (fd, name):
            os.symlink(target, name, dir_fd=fd)

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        with self.jail.parent(self._check(oldpath), follow=False) as (old_fd, old_name), \
                self.jail.parent(self._check(newpath, write=True), follow=False) as (new_fd, new_name):
            os.link(old_name, new_name, src_dir_fd=old_fd, dst_dir_fd=new_fd, follow_symlinks=False)


class _Handle:
    """An open file of a client: its descriptor (reads and writes are positional; the bulk path
    reads and writes ``fd`` itself unless ``append``)."""

    def __init__(self, fd: int, append: bool) -> None:
        self.fd = fd
        self.append = append

    def fileno(self) -> int:
        return self.fd

    def flush(self) -> None:
        """Writes are unbuffered (pwrite): nothing to flush."""

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class _QuietLogger(asyncssh.logging.SSHLogger):
    """asyncssh's logger, but a message below the enabled level costs nothing: asyncssh formats the
    arguments of every per-request debug line before the level is checked (a tenth of a 4 KiB write's
    time on the server)."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            super().log(level, msg, *args, **kwargs)


class _Channel:
    """What asyncssh's SFTP server asks of an SSH channel, for a plain byte stream."""

    def __init__(self) -> None:
        self.logger = _QuietLogger(logging.getLogger("asyncssh"), "fileshare")
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def get_connection(self) -> None:
        return None

    def is_closing(self) -> bool:
        return self.closing


class _Chunks:
    """What the server reads: the chunks the stream's reader thread hands over, taken whole
    (asyncio's StreamReader copies every byte into one buffer and out again)."""

    def __init__(self) -> None:
        self._chunks: collections.deque[bytes] = collections.deque()
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None

    def feed(self, chunk: bytes) -> None:
        """Called in the loop's thread."""
        if chunk:
            self._chunks.append(chunk)
            self._wake()

    def feed_eof(self) -> None:
        self._eof = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _wait(self) -> None:
        while not self._chunks and not self._eof:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def read(self, limit: int) -> bytes:
        """What has arrived, up to ``limit`` bytes (a whole chunk may exceed it); b"" at the end."""
        await self._wait()
        if not self._chunks:
            return b""
        parts = [self._chunks.popleft()]
        size = len(parts[0])
        while self._chunks and size + len(self._chunks[0]) <= limit:
            parts.append(self._chunks.popleft())
            size += len(parts[-1])
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def readexactly(self, n: int) -> bytes:
        parts, size = [], 0
        while size < n:
            await self._wait()
            if not self._chunks:
                raise asyncssh.misc.ConnectionLost("stream closed")
            chunk = self._chunks.popleft()
            if size + len(chunk) > n:
                self._chunks.appendleft(chunk[n - size:])
                chunk = chunk[:n - size]
            parts.append(chunk)
            size += len(chunk)
        return b"".join(parts)


class _Reader:
    def __init__(self, stream: _Chunks, channel: _Channel) -> None:
        self.stream = stream
        self.channel = channel
        self.logger = channel.logger

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    async def readexactly(self, n: int) -> bytes:
        return await self.stream.readexactly(n)


class GatherSend:
    """A ``send`` on a socket that takes the parts of a burst of replies as they are (a READ's
    header and its data) in one ``sendmsg``, instead of joining them into one buffer first."""

    IOV_MAX = 1024

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def __call__(self, data: bytes) -> None:
        self.sock.sendall(data)

    def parts(self, parts: list[bytes]) -> None:
        views = [memoryview(part) for part in parts if part]
        while views:
            sent = self.sock.sendmsg(views[:self.IOV_MAX])
            done = 0
            while done < len(views) and sent >= len(views[done]):
                sent -= len(views[done])
                done += 1
            views = views[done:]
            if views and sent:
                views[0] = views[0][sent:]


class _Writer:
    """Replies go out together: those written in one turn of the event loop (the answers to a burst
    of pipelined requests) leave in one send, not one system call (or websocket frame) each."""

    FLUSH_AT = 1 << 20  # bytes waiting that are sent at once, without waiting for the turn to end

    def __init__(self, send: Callable[[bytes], None], close: Callable[[], None], channel: _Channel) -> None:
        self.send = send
        self._close = close
        self.channel = channel
        self.logger = channel.logger
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if self.channel.closing:
            return
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(data)
        self._size += len(data)
        if self._size >= self.FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        pending, self._pending, self._size = self._pending, [], 0
        if pending and not self.channel.closing:
            try:
                if len(pending) > 1 and isinstance(self.send, GatherSend):
                    self.send.parts(pending)
                else:
                    self.send(pending[0] if len(pending) == 1 else b"".join(pending))
            except OSError:  # the stream broke: the reader sees its end and the server stops
                log.debug("the file share's stream broke while sending", exc_info=True)
                self.channel.closing = True

    def close(self) -> None:
        self.flush()
        self.channel.closing = True
        self._close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


async def serve(jail: Jail, reader: _Chunks, send: Callable[[bytes], None],
                close: Callable[[], None] = lambda: None, read_only: bool = False,
                exclude: list[str] | None = None) -> None:
    """Serve SFTP for one client on a byte stream (``reader`` in, ``send`` out) until it closes."""
    channel = _Channel()
    server = JailedSFTPServer(channel, jail, read_only=read_only, exclude=exclude)
    try:
        await BulkSFTPHandler(server, _Reader(reader, channel), _Writer(send, close, channel), SFTP_VERSION).run()
    except (asyncssh.misc.ConnectionLost, ConnectionError, BrokenPipeError):
        pass


def serve_chunks(root: str, chunks: Iterable[bytes], send: Callable[[bytes], None], read_only: bool = False,
                 exclude: list[str] | None = None) -> None:
    """Serve ``root`` to one client until ``chunks`` (what it sends, read in a thread) ends.

    Blocks; runs its own event loop, so that each stream (a docker exec socket, an exec websocket)
    is served by a thread of the caller's process."""
    loop = asyncio.new_event_loop()
    reader = _Chunks()

    def pump() -> None:
        try:
            for chunk in chunks:
                loop.call_soon_threadsafe(reader.feed, chunk)
        except Exception:  # noqa: BLE001 - the stream broke: the client is gone
            log.debug("the file share's stream ended with an error", exc_info=True)
        finally:
            loop.call_soon_threadsafe(reader.feed_eof)

    threading.Thread(target=pump, name="fileshare-read", daemon=True).start()
    jail = Jail(root)
    try:
        loop.run_until_complete(serve(jail, reader, send, read_only=read_only, exclude=exclude))
    finally:
        jail.close()
        loop.close()


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def serve_stdio(root: str, read_only: bool = False, exclude: list[str] | None = None) -> None:
    """Serve ``root`` on this process's stdin and stdout (as `sftp -D` expects).

    Plain reads and writes in threads: asyncio's pipe transports close a write end that is also
    readable, which it is when stdin and stdout are one socket (as `sftp -D` gives them).
    """
    chunks = iter(lambda: os.read(0, 256 * 1024), b"")
    serve_chunks(root, chunks, lambda data: write_all(1, data), read_only=read_only, exclude=exclude)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Serve a folder over SFTP on stdin/stdout, jailed to it.")
    parser.add_argument("root")
    parser.add_argument("--read-only", action="store_true")
    parser.add_argument("--exclude", action="append", default=[])
    arguments = parser.parse_args()
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    serve_stdio(arguments.root, arguments.read_only, arguments.exclude)
    sys.exit(0)
