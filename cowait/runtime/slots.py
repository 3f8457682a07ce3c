"""The bound on running subtasks across a run's whole tree, without a coordinator.

A run has ``parallelism`` slots. Each node owns a share of them (its *grant*) and hands slots down
when it starts subtasks: the root owns them all; a subtask is granted one slot, or more when its
parent has slots to spare and few subtasks waiting. A node that is a subtask runs its own code in
one of its slots, and gives that slot to its own subtasks while it waits on them (``await``,
``cowait.join``), taking it back, before anything else, when its code resumes.

Why this cannot deadlock: every slot is held either by running code or by a subtask; a node that
waits holds none of its own, so its grant always has room for at least one of its subtasks, and a
subtask with one slot can run its own subtasks one at a time. By induction on the depth of the
tree, every subtask that starts ends, and frees its slots for the next one in the queue.

A subtask's slots come back when it reports its end (result or failure), which it does after
stopping its own subtasks: what its process does after that (a notebook's kernel shutting down,
ended subtasks being removed) is tidying up, and does not hold the next subtask in the queue back.
"""

from __future__ import annotations

import sys
import threading
from typing import Any


class Slots:
    """A node's grant: ``capacity`` slots (None: no bound), handed out in FIFO order.

    ``own=True`` for a subtask: its code holds one slot while it runs (released by ``waiting``).
    """

    def __init__(self, capacity: int | None, own: bool = False) -> None:
        self.capacity = capacity
        self.used = 1 if (own and capacity is not None) else 0
        self._own = own and capacity is not None
        self.own_held = self._own
        self._waits = 0
        self._reclaims: list[Any] = []  # futures (asyncio, or threading.Event) waiting for the own slot
        self._closed = False
        self._lock = threading.Condition()

    @property
    def bounded(self) -> bool:
        return self.capacity is not None

    @property
    def free(self) -> int | None:
        with self._lock:
            return None if self.capacity is None else self.capacity - self.used

    # --- subtasks ----------------------------------------------------------------------------
    def take(self, queued_behind: int) -> int | None:
        """Block until a slot is free; take it, and more for a subtask that may fan out when the
        grant has slots to spare for the ``queued_behind`` subtasks after it. The grant's size
        (None without a bound; 0 once closed)."""
        if self.capacity is None:
            return None
        with self._lock:
            while (self.capacity - self.used < 1 or self._reclaims) and not self._closed:
                self._lock.wait()
            if self._closed:
                return 0
            spare = self.capacity - self.used - 1
            extra = spare // (queued_behind + 1) if spare > 0 else 0
            self.used += 1 + extra
            return 1 + extra

    def give_back(self, count: int | None) -> None:
        """A subtask ended: its grant returns (to the waiting code first, then the queue)."""
        if count is None or self.capacity is None:
            return
        with self._lock:
            self.used -= count
            self._hand_to_reclaims()
            self._lock.notify_all()

    def close(self) -> None:
        """The node is stopping: nothing more is handed out, and a waiting ``take`` returns 0."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    # --- the node's own code ----------------------------------------------------------------
    def waiting(self) -> None:
        """The node's code starts waiting on subtasks: its slot goes to them."""
        with self._lock:
            self._waits += 1
            if self._waits == 1 and self.own_held:
                self.own_held = False
                self.used -= 1
                self._lock.notify_all()

    def resumed(self) -> Any:
        """The node's code stops waiting. Returns None when it may run on now; otherwise an
        object to wait on (``asyncio.Future`` inside a running loop, else ``threading.Event``)
        until its slot is back."""
        with self._lock:
            self._waits -= 1
            if self._waits > 0 or self.capacity is None or self.own_held or not self._own:
                return None
            if self.capacity - self.used >= 1 and not self._reclaims:
                self.used += 1
                self.own_held = True
                return None
            asyncio = sys.modules.get("asyncio")  # not imported: no loop runs (cowait.runtime.lazyloop)
            try:
                waiter: Any = asyncio.get_running_loop().create_future()
            except (AttributeError, RuntimeError):
                waiter = threading.Event()
            self._reclaims.append(waiter)
            return waiter

    def _hand_to_reclaims(self) -> None:
        while self._reclaims and self.capacity is not None and self.capacity - self.used >= 1:
            waiter = self._reclaims.pop(0)
            self.used += 1
            self.own_held = True
            if isinstance(waiter, threading.Event):
                waiter.set()
            else:
                waiter.get_loop().call_soon_threadsafe(_settle, waiter)


def _settle(future: Any) -> None:
    if not future.done():
        future.set_result(None)
