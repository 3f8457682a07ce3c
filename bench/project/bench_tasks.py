"""Tasks the benchmarks time from inside a parent task."""

import time

import cowait


@cowait.task
async def noop():
    return None


@cowait.task
async def round_trip(repeat: int = 7) -> list:
    """Spawn-to-result time of one trivial subtask, ``repeat`` times in a row."""
    times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        await noop()
        times.append(time.perf_counter() - start)
    return times[1:]  # the first warms the parent's engine client


@cowait.task
async def fan_out(n: int = 32, repeat: int = 3) -> list:
    """Wall time of ``n`` trivial subtasks started at once, ``repeat`` times."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await cowait.join([noop() for _ in range(n)])
        times.append(time.perf_counter() - start)
    return times


@cowait.task
async def thousand(n: int = 1000) -> dict:
    """Wall time of ``n`` trivial subtasks through the run's queue, and the parent's peak RSS."""
    start = time.perf_counter()
    await cowait.join([noop() for _ in range(n)])
    wall = time.perf_counter() - start
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    return {"wall": wall, "rss_peak_mib": int(status["VmHWM"].split()[0]) / 1024}
