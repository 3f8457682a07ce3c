"""The run lifecycle's exit paths, on a run whose engine side is a recording stand-in (no engine)."""

from __future__ import annotations

import json

import pytest

from cowait.runs.lifecycle import Outcome, Run
from cowait.runs.record import RunRecord
from cowait.runtime.taskdef import TaskDefinition


class Recorded(Run):
    """A run that notes what was done to it; ``fail_start`` makes its start fail half way."""

    def __init__(self, tmp_path, fail_start: bool = False) -> None:
        root = TaskDefinition(id="job-1", name="job", run="job-1", image="img")
        super().__init__(root, RunRecord(tmp_path, "job-1"), engine=None)
        self.calls: list[str] = []
        self.fail_start = fail_start

    def start(self) -> None:
        self.calls.append("start")
        if self.fail_start:
            raise ValueError("the engine refused")

    def remove(self) -> None:
        self.calls.append("remove")

    def _ended(self) -> Outcome:
        return Outcome("done", result=3, exit_code=0)


def summary(tmp_path) -> dict:
    return json.loads((tmp_path / ".cowait" / "runs" / "job-1" / "run.json").read_text())


def test_a_failed_start_is_undone_and_its_error_kept(tmp_path):
    run = Recorded(tmp_path, fail_start=True)
    with pytest.raises(ValueError, match="the engine refused"):
        with run:
            pass
    assert run.calls == ["start", "remove"]
    assert summary(tmp_path)["status"] == "stop"


def test_ctrl_c_in_the_block_removes_the_run(tmp_path):
    run = Recorded(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        with run:
            raise KeyboardInterrupt
    assert run.calls == ["start", "remove"]
    assert summary(tmp_path)["status"] == "stop"


def test_an_ended_run_is_recorded_then_removed(tmp_path):
    run = Recorded(tmp_path)
    with run:
        assert run.outcome().status == "done"
    assert run.calls == ["start", "remove"]
    assert summary(tmp_path)["status"] == "done" and summary(tmp_path)["result"] == 3


def test_a_detached_run_is_left_going(tmp_path):
    run = Recorded(tmp_path)
    with run:
        run.detach()
    assert run.calls == ["start"]
