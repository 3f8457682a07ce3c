"""The reaper removes ended subtasks between bursts of starts, in batches, and all of them on flush."""

from __future__ import annotations

import threading
import time

from cowait.runtime.reaper import Reaper


class Removals:
    """What the reaper asked to remove, with when (a failing id raises, like a gone container)."""

    def __init__(self, failing: tuple[str, ...] = (), delay: float = 0.0) -> None:
        self.done: list[tuple[str, bool, float]] = []
        self.failing = failing
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, task_id: str, subtree: bool) -> None:
        time.sleep(self.delay)
        if task_id in self.failing:
            raise RuntimeError(f"{task_id} is gone")
        with self.lock:
            self.done.append((task_id, subtree, time.monotonic()))

    def ids(self) -> list[str]:
        with self.lock:
            return sorted(task_id for task_id, _, _ in self.done)


def wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_ended_subtasks_wait_while_a_subtask_is_starting_and_go_together_once_it_runs():
    removals = Removals()
    reaper = Reaper(removals, quiet=0.3, batch=100)
    reaper.starting()
    reaper.add("a", subtree=False)
    reaper.add("b", subtree=True)
    time.sleep(0.6)  # still starting: nothing is removed meanwhile
    assert removals.ids() == []
    reaper.started()
    running = time.monotonic()
    assert wait_for(lambda: removals.ids() == ["a", "b"])
    assert all(at >= running + 0.3 for _, _, at in removals.done)
    assert {(task_id, subtree) for task_id, subtree, _ in removals.done} == {("a", False), ("b", True)}


def test_a_full_batch_goes_while_subtasks_are_starting():
    removals = Removals()
    reaper = Reaper(removals, quiet=30, batch=4)
    reaper.starting()
    for name in "abc":
        reaper.add(name, subtree=True)
    time.sleep(0.2)
    assert removals.ids() == []
    reaper.add("d", subtree=True)
    assert wait_for(lambda: removals.ids() == ["a", "b", "c", "d"])


def test_flush_removes_every_waiting_subtask_now_and_a_failure_stops_none_of_the_others():
    removals = Removals(failing=("b",), delay=0.05)
    reaper = Reaper(removals, quiet=30, batch=100)
    reaper.starting()
    for name in "abcdefghij":
        reaper.add(name, subtree=True)
    start = time.monotonic()
    reaper.flush()
    assert removals.ids() == sorted(set("abcdefghij") - {"b"})
    assert time.monotonic() - start < 5  # not after the 30 s quiet period


def test_flush_waits_for_removals_the_thread_already_took():
    removals = Removals(delay=0.5)
    reaper = Reaper(removals, quiet=0.0, batch=100)
    reaper.add("slow", subtree=True)
    assert wait_for(lambda: reaper._busy == 1)  # taken by the thread, still being removed
    reaper.flush()
    assert removals.ids() == ["slow"]
