"""File operations confined to one folder, race-free.

Every path is walked one component at a time from a file descriptor of the root, opening each
folder with ``O_NOFOLLOW``; the final operation uses that folder's descriptor (``dir_fd``). A
symbolic link is followed only when its target stays inside the root (resolved the same way), so
``..``, absolute paths and links to ``/etc`` are refused, and a link swapped in during an
operation cannot redirect it: no syscall ever takes a full path.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat as statmod
from contextlib import contextmanager
from typing import Iterator

MAX_LINKS = 40  # as the kernel's own limit on symlinks in one lookup


class JailError(PermissionError):
    """A path leaves the shared folder."""

    def __init__(self, path: str) -> None:
        super().__init__(errno.EACCES, "outside the shared folder", path)


def normalize(path: str) -> list[str]:
    """Components of ``path`` relative to the root ('..' cannot climb above it)."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return parts


class Jail:
    """Operations on paths inside ``root``; every path is relative to it ('/' is the root)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        self.root_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)

    def close(self) -> None:
        os.close(self.root_fd)

    @contextmanager
    def parent(self, path: str, follow: bool = True) -> Iterator[tuple[int, str]]:
        """(descriptor of the folder holding the entry, its name); the last component is resolved
        when ``follow`` and it is a symlink pointing inside the jail. The root itself is (root, '.')."""
        fd, name = self._resolve(normalize(path), follow, links=0)
        try:
            yield fd, name
        finally:
            if fd != self.root_fd:
                os.close(fd)

    def _resolve(self, parts: list[str], follow: bool, links: int) -> tuple[int, str]:
        if not parts:
            return self.root_fd, "."
        fd = self.root_fd
        walked: list[str] = []
        try:
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                if not last or follow:
                    try:
                        info = os.stat(part, dir_fd=fd, follow_symlinks=False)
                    except FileNotFoundError:
                        if last:
                            break
                        raise
                    if statmod.S_ISLNK(info.st_mode):
                        if links >= MAX_LINKS:
                            raise OSError(errno.ELOOP, "too many levels of symbolic links", "/".join(parts))
                        target = os.readlink(part, dir_fd=fd)
                        if target.startswith("/"):
                            raise JailError("/".join(parts))
                        joined = posixpath.normpath(posixpath.join("/".join(walked), target))
                        if joined == ".." or joined.startswith("../"):
                            raise JailError("/".join(parts))
                        rest = parts[index + 1:]
                        if fd != self.root_fd:
                            os.close(fd)
                            fd = self.root_fd
                        return self._resolve(normalize(joined) + rest, follow, links + 1)
                if last:
                    break
                next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                if fd != self.root_fd:
                    os.close(fd)
                fd = next_fd
                walked.append(part)
            return fd, parts[-1]
        except OSError as exc:
            if fd != self.root_fd:
                os.close(fd)
            if exc.errno == errno.ELOOP and not isinstance(exc, JailError):  # swapped to a link meanwhile
                raise JailError("/".join(parts)) from None
            raise

    def relative(self, path: str) -> str:
        """The normalized path as the client sees it, from the root."""
        return "/" + "/".join(normalize(path))
