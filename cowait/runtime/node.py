"""A node: the task running in this process, its engine, and the subtasks it started."""

from __future__ import annotations

import asyncio
import logging
import threading
import traceback
from dataclasses import replace
from typing import Any

from cowait.errors import TaskError
from cowait.runtime import events
from cowait.runtime.remote import RemoteTask
from cowait.runtime.taskdef import TaskDefinition, new_task_id
from cowait.runtime.types import bind_inputs, encode

log = logging.getLogger("cowait.runtime")


# Engine options of a run's root that its subtasks must not inherit.
ROOT_ONLY_OPTIONS = ("command", "ports")


class Node:
    """Starts subtasks through the engine named in the task definition, and watches them.

    Each subtask has a watcher thread: it starts the container, follows its stream (acting on
    its events and forwarding them upstream), waits for its exit, and removes it.
    """

    def __init__(self, taskdef: TaskDefinition, inputs: dict[str, Any] | None = None) -> None:
        self.taskdef = taskdef
        self.inputs: dict[str, Any] = inputs if inputs is not None else {}
        self.children: dict[str, RemoteTask] = {}
        self._engine = None
        # called with every event of the subtree (a notebook kernel shows them in the cell)
        self.listeners: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._stopping = False

    @property
    def engine(self):
        if self._engine is None:
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
            if asyncio.iscoroutine(value) or isinstance(value, (RemoteTask, asyncio.Future)):
                raise TypeError(f"input '{name}' of {ref} must be awaited first")
        taskdef = self.child_definition(ref, inputs, **options)
        handle = RemoteTask(taskdef, inputs)
        self.children[taskdef.id] = handle
        thread = threading.Thread(target=self._watch, args=(handle,), name=f"watch-{taskdef.id}", daemon=True)
        self._threads.append(thread)
        thread.start()
        return handle

    # --- watcher thread -------------------------------------------------------------------
    def _watch(self, handle: RemoteTask) -> None:
        child = handle.taskdef
        outcome: dict[str, Any] = {}
        try:
            self.engine.start(child)
            for line in self.engine.follow(child.id):
                self._on_line(handle, line, outcome)
            if "result" not in outcome and "error" not in outcome:
                code, reason = self.engine.wait(child.id)
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
            try:
                # a child that returned or failed by itself has removed its own subtasks
                ended_itself = "result" in outcome or outcome.get("reported", False)
                self.engine.remove(child.id, subtree=not ended_itself)
            except Exception:  # noqa: BLE001 - the run's removal sweeps what is left
                log.debug("could not remove subtask %s", child.id, exc_info=True)

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
                handle._set_result(outcome["result"])  # resolve before the container exits
            elif kind == "fail":
                error = event.get("error") or {}
                outcome["error"] = TaskError(child_id, error.get("type", ""), error.get("message", ""),
                                             error.get("traceback", ""))
                outcome["reported"] = True
                handle._set_error(outcome["error"])
            elif kind == "status":
                handle._set_status(event.get("status", ""))
        self._publish(event)

    def _publish(self, event: dict[str, Any]) -> None:
        events.emit(event)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a display must not stop the task
                log.debug("an event listener failed", exc_info=True)

    # --- end of the parent ------------------------------------------------------------------
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

    def stop_children(self) -> None:
        """Stop and remove every subtask still running (and their subtasks)."""
        self._stopping = True
        running = [h.id for h in self.children.values() if not h.done]
        if running:
            from concurrent.futures import ThreadPoolExecutor

            # in parallel: a stopping parent may have little time before it is killed itself
            with ThreadPoolExecutor(max_workers=min(32, len(running))) as pool:
                list(pool.map(self._kill_quietly, running))
        for thread in self._threads:
            thread.join(timeout=10)
