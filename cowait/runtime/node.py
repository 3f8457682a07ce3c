"""A node: the task running in this process, its engine, and the subtasks it started."""

from __future__ import annotations

import inspect
import logging
import threading
import time
import traceback
from collections import deque
from dataclasses import replace
from typing import Any

from cowait.errors import TaskError
from cowait.runtime import events
from cowait.runtime.reaper import Reaper
from cowait.runtime.remote import RemoteTask
from cowait.runtime.slots import Slots
from cowait.runtime.taskdef import TaskDefinition, new_task_id
from cowait.runtime.types import bind_inputs, encode

log = logging.getLogger("cowait.runtime")


# A burst of spawns has ended when none came for BURST_QUIET seconds (waited for at most BURST_MAX).
BURST_QUIET = 0.02
BURST_MAX = 0.2

# Engine options of a run's root that its subtasks must not inherit.
ROOT_ONLY_OPTIONS = ("command", "ports")


class Node:
    """Starts subtasks through the engine named in the task definition, and watches them.

    Subtasks wait in a queue, in the order they were made, until the node's grant of slots
    (``cowait.runtime.slots``) has room; one dispatcher thread starts them. Each running subtask
    has a watcher thread: it starts the container, follows its stream (acting on its events and
    forwarding them upstream) and waits for its exit. Its slots come back when it reports its end
    (its result or failure), not when its process has tidied up and exits. Ended subtasks are removed
    in batches between bursts of starts (``cowait.runtime.reaper``), the rest when the node stops.

    ``own_slot``: the node's code runs in one of its slots (a subtask's does; a run's root and an
    interactive notebook kernel do not).
    """

    def __init__(self, taskdef: TaskDefinition, inputs: dict[str, Any] | None = None,
                 own_slot: bool | None = None) -> None:
        self.taskdef = taskdef
        self.inputs: dict[str, Any] = inputs if inputs is not None else {}
        self.children: dict[str, RemoteTask] = {}
        self._engine = None
        # called with every event of the subtree (a notebook kernel shows them in the cell)
        self.listeners: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.slots = Slots(taskdef.parallelism, own=taskdef.parent is not None if own_slot is None else own_slot)
        self._queue: deque[RemoteTask] = deque()
        self._queued = threading.Condition()
        self._dispatcher: threading.Thread | None = None
        self._after_result: list[Any] = []
        self.reaper = Reaper(lambda task_id, subtree: self.engine.remove(task_id, subtree=subtree))

    @property
    def engine(self):
        if self._engine is None:  # the registry hands every thread the same instance
            from cowait.engine.registry import get_engine

            self._engine = get_engine(self.taskdef.engine, self.taskdef.engine_options)
        return self._engine

    def child_definition(self, ref: str, inputs: dict[str, Any], *, id: str | None = None, image: str | None = None,
                         env: dict[str, str] | None = None, volumes: list[dict[str, Any]] | None = None,
                         inherit_env: bool = True, inherit_volumes: bool = True,
                         cpu: str | None = None, cpu_limit: str | None = None,
                         memory: str | None = None, memory_limit: str | None = None) -> TaskDefinition:
        """A child's definition: the parent's image, environment, volumes and resources unless overridden."""
        parent = self.taskdef
        return replace(
            parent,
            id=id or new_task_id(ref),
            name=ref,
            parent=parent.id,
            inputs=encode(inputs),
            image=image or parent.image,
            env={**(parent.env if inherit_env else {}), **(env or {})},
            volumes=[*(parent.volumes if inherit_volumes else []), *(volumes or [])],
            engine_options={k: v for k, v in parent.engine_options.items() if k not in ROOT_ONLY_OPTIONS},
            cpu=cpu if cpu is not None else parent.cpu,
            cpu_limit=cpu_limit if cpu_limit is not None else parent.cpu_limit,
            memory=memory if memory is not None else parent.memory,
            memory_limit=memory_limit if memory_limit is not None else parent.memory_limit,
            created_at=TaskDefinition.__dataclass_fields__["created_at"].default_factory(),  # type: ignore[misc]
        )

    def spawn(self, target: Any, inputs: dict[str, Any], **options: Any) -> RemoteTask:
        """Start ``target`` with ``inputs`` in its own container; return its handle at once."""
        from cowait.runtime.loader import ref_of
        from cowait.runtime.task import run_function_of

        if self._stopping:
            raise RuntimeError("this task is stopping; no new subtasks")
        ref, cls = ref_of(target)
        if cls is not None and hasattr(cls, "prepare_inputs"):
            inputs = cls.prepare_inputs(dict(inputs))
        if cls is not None:  # check inputs here, before any container starts
            bind_inputs(run_function_of(cls), inputs, ref)
        for name, value in inputs.items():
            if inspect.isawaitable(value):  # a coroutine, future or subtask handle
                raise TypeError(f"input '{name}' of {ref} must be awaited first")
        # asyncio is imported here, in the task's thread, before any thread of the node starts:
        # that is when cowait.runtime.lazyloop starts the task's event loop
        import asyncio  # noqa: F401
        taskdef = self.child_definition(ref, inputs, **options)
        handle = RemoteTask(taskdef, inputs)
        handle._slots = self.slots
        self.children[taskdef.id] = handle
        if self.slots.bounded:
            handle.status = "queued"
            self._publish(taskdef.init_event(events.preview(taskdef.inputs), queued=True))
            self._publish({"type": "status", "id": taskdef.id, "status": "queued"})
        with self._queued:
            self._queue.append(handle)
            self._queued.notify()
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(target=self._dispatch, name="dispatch-subtasks", daemon=True)
                self._dispatcher.start()
        return handle

    # --- dispatcher thread: the queue, in order, as slots free up -----------------------------
    def _dispatch(self) -> None:
        while True:
            with self._queued:
                while not self._queue and not self._stopping:
                    self._queued.wait()
                if self._stopping:
                    return
                if (self.slots.free or 0) > 1:
                    self._settle_burst()
                behind = len(self._queue) - 1
            grant = self.slots.take(behind)  # blocks while the grant is full
            with self._queued:
                if self._stopping or not self._queue:
                    self.slots.give_back(grant)
                    return
                handle = self._queue.popleft()
            if grant is not None:
                handle.taskdef.parallelism = grant
            thread = threading.Thread(target=self._watch, args=(handle, grant), name=f"watch-{handle.id}",
                                      daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()]  # a thread per running subtask only
            self._threads.append(thread)
            thread.start()

    def _settle_burst(self) -> None:
        """With slots to spare, let a burst of spawns (``cowait.join([... for ...])``) finish before
        sharing them out, so the first subtask of a burst is not granted what the rest need."""
        deadline = time.monotonic() + BURST_MAX
        while time.monotonic() < deadline:
            before = len(self._queue)
            self._queued.wait(BURST_QUIET)
            if len(self._queue) == before or self._stopping:
                return

    # --- watcher thread -------------------------------------------------------------------
    def _watch(self, handle: RemoteTask, grant: int | None = None) -> None:
        child = handle.taskdef
        outcome: dict[str, Any] = {"grant": grant}
        try:
            self.reaper.starting()
            try:
                self.engine.start(child)
                lines = self.engine.follow(child.id)  # returns once the container runs
            finally:
                self.reaper.started()
            for line in lines:
                self._on_line(handle, line, outcome)
            if "result" not in outcome and "error" not in outcome:
                code, reason = self.engine.wait(child.id)
                self._recover_end(handle, outcome)
            if "result" not in outcome and "error" not in outcome:
                outcome["error"] = TaskError(child.id, "TaskLost", f"{reason} without returning a result")
                self._publish({"type": "fail", "id": child.id, "error": outcome["error"].to_dict()})
        except Exception as exc:  # the engine failed: the child cannot run
            outcome["error"] = TaskError(child.id, type(exc).__name__, str(exc), traceback.format_exc())
            self._publish({"type": "fail", "id": child.id, "error": outcome["error"].to_dict()})
        finally:
            if "result" in outcome:
                handle._set_result(outcome["result"])
            else:
                handle._set_error(outcome.get("error") or TaskError(child.id, "TaskLost", "lost"))
            # a child that returned or failed by itself has removed its own subtasks
            ended_itself = "result" in outcome or outcome.get("reported", False)
            self.reaper.add(child.id, subtree=not ended_itself)
            self._release(outcome)

    def _recover_end(self, handle: RemoteTask, outcome: dict[str, Any]) -> None:
        """The stream ended without the subtask's result or failure: read its whole output once
        more, now that it has stopped, and take its end from there. (An engine's follow may close
        as the container stops, before the last lines it wrote were passed on: seen on Docker
        with 1,000 short subtasks, one of which exited 0 with its result missing from the stream.)"""
        try:
            lines = list(self.engine.read(handle.id))
        except Exception:  # noqa: BLE001 - then it is lost, as the caller reports
            log.debug("could not read the output of %s again", handle.id, exc_info=True)
            return
        ending = False
        for line in lines:
            _, event = events.parse_line(line)
            if event is not None and event.get("id") == handle.id and event.get("type") in ("return", "fail"):
                ending = True
            if ending:
                self._on_line(handle, line, outcome)

    def _on_line(self, handle: RemoteTask, line: str, outcome: dict[str, Any]) -> None:
        text, event = events.parse_line(line)
        child_id = handle.taskdef.id
        if text is not None:
            self._publish({"type": "log", "id": child_id, "line": text})
        if event is None:
            return
        if event.get("id") == child_id:
            kind = event.get("type")
            if kind == "return":
                from cowait.runtime.types import decode

                outcome["result"] = decode(event.get("result"))
                event = {**event, "result": events.preview(event.get("result"))}
                self._release(outcome)  # first: the parent's code resumes with its slot free
                handle._set_result(outcome["result"])  # resolve before the container exits
            elif kind == "fail":
                error = event.get("error") or {}
                outcome["error"] = TaskError(child_id, error.get("type", ""), error.get("message", ""),
                                             error.get("traceback", ""))
                outcome["reported"] = True
                self._release(outcome)
                handle._set_error(outcome["error"])
            elif kind == "status":
                handle._set_status(event.get("status", ""))
        self._publish(event)

    def _release(self, outcome: dict[str, Any]) -> None:
        """Give a subtask's slots back once it has reported its end: it stopped its own subtasks
        before that, and what its process does until it exits (a notebook's kernel shutting down,
        removing its ended subtasks) is tidying up, which must not hold the next subtask back."""
        if "grant" in outcome:
            self.slots.give_back(outcome.pop("grant"))

    def _publish(self, event: dict[str, Any]) -> None:
        events.emit(event)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a display must not stop the task
                log.debug("an event listener failed", exc_info=True)

    # --- end of the parent ------------------------------------------------------------------
    def after_result(self, work: Any) -> None:
        """Hand over an awaitable that may finish after this task's result has gone out (a notebook's
        kernel exiting): the parent gets the result without waiting for it; the process ends after it."""
        self._after_result.append(work)

    async def finish_after_result(self, timeout: float = 30) -> None:
        """Await what ``after_result`` was given (each failure logged, none raised)."""
        work, self._after_result = self._after_result, []
        if not work:
            return
        import asyncio

        for item in work:
            try:
                await asyncio.wait_for(item, timeout)
            except Exception:  # noqa: BLE001 - the result is out; what is left is tidying up
                log.debug("work after the result failed", exc_info=True)

    async def finish_children(self) -> list[TaskError]:
        """Wait for subtasks nobody awaited; return the failures among them."""
        pending = [h for h in self.children.values() if not h.awaited]
        failures = []
        for handle in pending:
            try:
                await handle
            except TaskError as exc:
                failures.append(exc)
        return failures

    def _kill_quietly(self, task_id: str) -> None:
        try:
            self.engine.kill([task_id])
        except Exception:  # noqa: BLE001 - stopping anyway
            log.debug("could not kill subtask %s", task_id, exc_info=True)

    def stop_children(self, remove_ended: bool = True) -> None:
        """Stop and remove every subtask still running (and their subtasks); those still queued
        never start. ``remove_ended``: also remove the ended ones now (else ``remove_ended()``)."""
        with self._queued:
            self._stopping = True
            queued = list(self._queue)
            self._queue.clear()
            self._queued.notify_all()
        for handle in queued:
            error = TaskError(handle.id, "TaskStopped", "stopped before it started")
            self._publish({"type": "fail", "id": handle.id, "error": error.to_dict()})
            handle._set_error(error)
        self.slots.close()  # wakes a dispatcher waiting for a slot
        running = [h.id for h in self.children.values() if not h.done]
        if running:
            from concurrent.futures import ThreadPoolExecutor

            # in parallel: a stopping parent may have little time before it is killed itself
            with ThreadPoolExecutor(max_workers=min(32, len(running))) as pool:
                list(pool.map(self._kill_quietly, running))
        for thread in self._threads:
            thread.join(timeout=10)
        if remove_ended:
            self.remove_ended()

    def remove_ended(self) -> None:
        """Remove the ended subtasks still waiting for removal; return when they are gone."""
        self.reaper.flush()
