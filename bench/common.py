"""Helpers for benchmarks: timing with repeats, and ratio reports against a baseline from the same run."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Callable


def timed(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs, after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Run a command, failing loudly."""
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def report(name: str, value: float, baseline_name: str, baseline: float, target: float | None = None) -> dict:
    """Print one benchmark line: value, baseline, ratio and whether it meets the target."""
    ratio = value / baseline if baseline else float("inf")
    verdict = "" if target is None else ("  ok" if ratio <= target else f"  MISSES target <= {target}x")
    print(f"{name:<44} {value * 1000:9.1f} ms   {baseline_name:<34} {baseline * 1000:9.1f} ms   {ratio:6.2f}x{verdict}")
    sys.stdout.flush()
    return {"name": name, "value_s": value, "baseline": baseline_name, "baseline_s": baseline, "ratio": ratio, "target": target}
