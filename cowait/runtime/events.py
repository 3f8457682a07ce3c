"""The event protocol: JSON events interleaved with a task's own output on stdout.

A task's stdout is what the engine keeps (``docker logs``, pod logs), so it is the one record
that survives any process: an event is a line that starts with a marker, anything else is the
task's own output. A parent follows each child's stream, acts on its events, and re-emits them
(and the child's output, as ``log`` events) on its own stdout, so the root's stream holds the
whole tree.

Event types: ``init`` (id, name, parent, inputs), ``status`` (work|done|fail|stop),
``return`` (result), ``fail`` (error: type, message, traceback), ``log`` (a descendant's line),
``artifact`` (name, file, data: a file for the caller's record, gzip and base64; on a cluster a
finished pod's files cannot be copied, so they travel in the stream).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any, Iterator

MARKER = "\x1e@cowait "
_lock = threading.Lock()
_fd: int | None = None
# Forwarded results larger than this are cut to a preview: the parent already has the full value.
PREVIEW_LIMIT = 4096


def set_output_fd(fd: int) -> None:
    """Write events to ``fd`` (the container's real stdout)."""
    global _fd
    _fd = fd


def emit(event: dict[str, Any]) -> None:
    """Write one event line, after flushing the task's own buffered output so order is kept."""
    event.setdefault("ts", time.time())
    line = MARKER + json.dumps(event, separators=(",", ":"), default=str) + "\n"
    with _lock:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (ValueError, OSError):
                pass
        data = line.encode()
        fd = _fd if _fd is not None else 1
        # os.write may write less than asked for on a pipe: finish the line
        while data:
            written = os.write(fd, data)
            data = data[written:]


def parse_line(line: str) -> tuple[str | None, dict[str, Any] | None]:
    """Split one line of a task's stream into (its own text, an event); either may be None.

    Output that lacked a final newline can precede an event on the same line: both are kept.
    """
    text, marker, payload = line.partition(MARKER)
    if not marker:
        return line, None
    try:
        event = json.loads(payload)
    except ValueError:
        return line, None
    return (text or None), event


def split_lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """Bytes in arbitrary chunks -> complete text lines (without the newline).

    Partial lines are kept as a list of parts, so a 10 MB line arriving in 16 KiB chunks
    is joined once, not copied for every chunk.
    """
    parts: list[bytes] = []
    for chunk in chunks:
        if b"\n" not in chunk:
            parts.append(chunk)
            continue
        pieces = chunk.split(b"\n")
        parts.append(pieces[0])
        yield _decode(b"".join(parts))
        for piece in pieces[1:-1]:
            yield _decode(piece)
        parts = [pieces[-1]] if pieces[-1] else []
    if parts:
        yield _decode(b"".join(parts))


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r")


def preview(value: Any) -> Any:
    """The value itself when small, else a truncated JSON text of it."""
    text = json.dumps(value, default=str)
    if len(text) <= PREVIEW_LIMIT:
        return value
    return {"@preview": text[:PREVIEW_LIMIT] + "...", "@size": len(text)}


def send_file(task_id: str, name: str, path: str, file: str | None = None) -> None:
    """Send the file at ``path`` to the caller's record of the run, as ``file`` (default: its name)."""
    import base64
    import gzip

    if not os.path.isfile(path):
        return
    with open(path, "rb") as handle:
        data = base64.b64encode(gzip.compress(handle.read(), compresslevel=6)).decode()
    emit({"type": "artifact", "id": task_id, "name": name, "file": file or os.path.basename(path), "data": data})
