"""``cowait.tasks.container``: run a container of another image as a subtask and stream its log."""

from __future__ import annotations

import asyncio
import logging
import threading

from cowait.runtime.context import require_node
from cowait.runtime.task import Task

log = logging.getLogger("cowait.tasks")


class ContainerError(RuntimeError):
    """The container exited with a non-zero code."""


class ContainerTask(Task):
    """Runs ``image`` (with ``command`` and ``env``) in its own container, child of this task.

    Its output becomes this task's log; a non-zero exit fails the task. Returns ``{"code": 0}``.
    """

    async def run(self, image: str, command: list = None, env: dict = None) -> dict:  # noqa: RUF013
        node = require_node("start a container")
        engine = node.engine
        child = node.child_definition(f"container:{image}", {}, image=image, inherit_env=False,
                                      inherit_volumes=False)
        loop = asyncio.get_running_loop()
        done: asyncio.Future = loop.create_future()

        def watch() -> None:
            try:
                engine.ensure_image(image)
                engine.start_image(child, command, {k: str(v) for k, v in (env or {}).items()})
                for line in engine.follow(child.id):
                    print(line, flush=True)
                code, reason = engine.wait(child.id)
                loop.call_soon_threadsafe(_settle, done, (code, reason), None)
            except BaseException as exc:  # noqa: BLE001 - handed to the task
                loop.call_soon_threadsafe(_settle, done, None, exc)
            finally:
                try:
                    engine.remove(child.id)
                except Exception:  # noqa: BLE001 - the run's removal sweeps what is left
                    log.debug("could not remove container %s", child.id, exc_info=True)

        threading.Thread(target=watch, name=f"container-{child.id}", daemon=True).start()
        try:
            code, reason = await done
        except BaseException:
            engine.kill([child.id])
            raise
        if code != 0:
            raise ContainerError(f"container {child.id} ({image}) {reason}")
        return {"code": code}


def _settle(future: asyncio.Future, value: object, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
