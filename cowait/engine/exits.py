"""How a task's container ended, in words (the same on every engine)."""

from __future__ import annotations


def describe_exit(code: int, oom_killed: bool = False) -> str:
    """'ran out of memory (OOMKilled)', 'was killed (SIGKILL)', 'exited with code 3', ..."""
    if oom_killed:
        return "ran out of memory (OOMKilled)"
    if code == 137:
        return "was killed (SIGKILL)"
    if code == 143:
        return "was stopped (SIGTERM)"
    return f"exited with code {code}"
