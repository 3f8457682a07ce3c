"""The lifecycle of a run on any engine: start the root, follow its stream into the record, and
remove every object of the run at the end, on every exit path (success, failure, Ctrl-C, SIGTERM,
an engine error), unless the run was detached."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from cowait.runs.record import RunRecord
from cowait.runs.state import RunState, normalize
from cowait.runtime.taskdef import TaskDefinition
from cowait.runtime.types import decode

if TYPE_CHECKING:
    from cowait.engine.interface import TaskEngine

EventSink = Callable[[dict[str, Any]], None]


@dataclass
class Outcome:
    """How a run ended."""

    status: str  # done | fail | stop
    result: Any = None
    error: dict[str, Any] | None = None
    exit_code: int | None = None


class Run:
    """One run on an engine, as a context manager that owns it (``command``: a process that
    replaces the task runtime in the root, such as a pytest session).

    ``with run:`` starts the root (a half-done start is undone); leaving the block writes the
    record's summary of an ended run and removes every container or pod of the run, whatever
    ended the block, unless ``detach()`` handed the run over to the engine.
    """

    def __init__(self, root: TaskDefinition, record: RunRecord, engine: "TaskEngine",
                 command: list[str] | None = None) -> None:
        self.root = root
        self.record = record
        self.engine = engine
        self.command = command
        self.state = RunState(root.id)
        self.started_at = time.time()
        self.detached = False
        self._outcome: Outcome | None = None

    def __enter__(self) -> "Run":
        self.record.create()  # so that undoing a half-done start can record it
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.detached:
            self.record.close()
        elif self._outcome is not None and exc_type is None:
            self.finish(self._outcome)
        else:
            self.stop()

    def detach(self) -> None:
        """Leave the run going when the block ends (``cowait logs -f`` and ``kill`` find it)."""
        self.detached = True

    def start(self) -> None:
        """Launch the root on its engine (what was applied is kept in the record)."""
        self.record.write_summary(self._summary("running"))
        self.engine.launch(self.root, self.record.dir, self.command)

    def remove(self) -> None:
        """Remove every object of the run."""
        self.engine.remove_run(self.root.run)

    def follow(self, sink: EventSink) -> None:
        """Feed every event of the tree to ``sink`` (and the record) until the root stops."""
        for line in self.engine.follow(self.root.id):
            for event in normalize(self.root.id, line):
                event = self.record.append_event(event)
                self.state.apply(event)
                sink(event)

    def outcome(self) -> Outcome:
        """The root's outcome, once its stream has ended (kept for the end of the block)."""
        self._outcome = self._ended()
        return self._outcome

    def _ended(self) -> Outcome:
        code, reason = self.engine.wait(self.root.id)
        root = self.state.root
        if root.status == "done":
            return Outcome("done", decode(root.result), exit_code=code)
        if root.error is not None:
            return Outcome("fail", error=root.error, exit_code=code)
        error = {"type": "TaskLost", "message": f"task {self.root.id} {reason} without returning a result",
                 "traceback": ""}
        self.record.append_event({"type": "fail", "id": self.root.id, "error": error, "ts": time.time()})
        return Outcome("fail", error=error, exit_code=code)

    def finish(self, outcome: Outcome) -> None:
        """Write the record's summary and remove the run's containers and network."""
        self.record.write_summary(self._summary(outcome.status, outcome))
        self.record.close()
        self.remove()

    def stop(self) -> None:
        """Stop the whole tree now (Ctrl-C)."""
        self.remove()
        self.record.append_event({"type": "status", "id": self.root.id, "status": "stop", "ts": time.time()})
        self.record.write_summary(self._summary("stop", Outcome("stop")))
        self.record.close()

    def _summary(self, status: str, outcome: Outcome | None = None) -> dict[str, Any]:
        return {
            "id": self.root.id, "task": self.root.name, "status": status, "image": self.root.image,
            "engine": self.root.engine, "started": self.started_at, "ended": time.time() if outcome else None,
            "result": outcome.result if outcome else None, "error": outcome.error if outcome else None,
            "exit_code": outcome.exit_code if outcome else None,
        }


