"""What an engine reports of one task, in the same terms on every engine (for ps, logs and kill)."""

from __future__ import annotations

from dataclasses import dataclass

LIVE = ("pending", "running")


@dataclass
class TaskInfo:
    """One task as its engine sees it: from labels and the container's (or pod's) state alone."""

    id: str
    name: str
    run: str
    parent: str
    root: bool
    status: str  # pending | running | done | fail
    exit_code: int | None
    created: float | None  # seconds since the epoch
    project_dir: str
    engine: str

    @property
    def live(self) -> bool:
        """Still pending or running (not ended)."""
        return self.status in LIVE
