"""The slot arithmetic of the bound on running subtasks (cowait.runtime.slots), in one process."""

import asyncio
import threading
import time

from cowait.runtime.slots import Slots


def test_unbounded_hands_out_no_grants():
    slots = Slots(None, own=True)
    assert not slots.bounded and slots.take(10) is None and slots.free is None
    slots.waiting()
    assert slots.resumed() is None


def test_spare_slots_are_shared_among_the_queue():
    slots = Slots(8)
    assert slots.take(queued_behind=1) == 4  # two subtasks to start: four slots each
    assert slots.take(queued_behind=0) == 4
    assert slots.free == 0
    many = Slots(8)
    assert [many.take(queued_behind=100) for _ in range(8)] == [1] * 8


def test_take_blocks_until_a_grant_returns_and_keeps_order():
    slots = Slots(1)
    assert slots.take(0) == 1
    order: list[int] = []

    def taker(i: int) -> None:
        slots.take(0)
        order.append(i)

    threads = []
    for i in range(3):
        thread = threading.Thread(target=taker, args=(i,))
        thread.start()
        threads.append(thread)
        time.sleep(0.05)  # each one queued behind the previous
    assert order == []
    for _ in range(3):
        slots.give_back(1)
        time.sleep(0.05)
    for thread in threads:
        thread.join(2)
    assert sorted(order) == [0, 1, 2] and len(order) == 3


def test_a_subtask_gives_its_own_slot_to_its_subtasks_while_it_waits():
    slots = Slots(1, own=True)
    assert slots.free == 0  # its code runs in its only slot
    slots.waiting()
    assert slots.free == 1
    assert slots.take(0) == 1  # a child of its own starts
    reclaim = slots.resumed()  # the code resumes while the child runs: it waits for its slot
    assert isinstance(reclaim, threading.Event) and not reclaim.is_set()
    slots.give_back(1)  # the child ends: the slot goes back to the code first
    assert reclaim.is_set() and slots.free == 0


def test_the_reclaim_comes_before_the_queue_and_wakes_an_event_loop():
    slots = Slots(1, own=True)
    slots.waiting()
    slots.take(0)

    async def resume() -> float:
        waiter = slots.resumed()
        assert waiter is not None
        threading.Timer(0.1, slots.give_back, args=(1,)).start()
        begun = time.monotonic()
        await waiter
        return time.monotonic() - begun

    assert 0.05 < asyncio.run(resume()) < 2
    assert slots.free == 0


def test_close_releases_a_blocked_take():
    slots = Slots(1)
    slots.take(0)
    got: list = []
    thread = threading.Thread(target=lambda: got.append(slots.take(0)))
    thread.start()
    time.sleep(0.05)
    slots.close()
    thread.join(2)
    assert got == [0]
