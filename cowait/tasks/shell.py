"""``cowait.tasks.shell``: run a shell command as a task; a non-zero exit fails the task."""

from __future__ import annotations

import asyncio
import os

from cowait.runtime.task import Task


class ShellError(RuntimeError):
    """The command exited with a non-zero code."""


class ShellTask(Task):
    """Runs ``command`` with ``sh -c``; its output is the task's log. Returns ``{"code": 0}``."""

    async def run(self, command: str, env: dict = None) -> dict:  # noqa: RUF013 - original signature
        process = await asyncio.create_subprocess_shell(command, env={**os.environ, **{k: str(v) for k, v in (env or {}).items()}})
        try:
            code = await process.wait()
        except BaseException:
            if process.returncode is None:
                process.terminate()
            raise
        if code != 0:
            raise ShellError(f"command {command!r} exited with code {code}")
        return {"code": code}
