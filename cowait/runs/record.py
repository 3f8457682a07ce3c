"""The record of a run on the caller's side: ``.cowait/runs/<run-id>/`` in the project.

``compose.yml`` (what was started), ``events.jsonl`` (every event and log line of the tree)
and ``run.json`` (task, status, result, error, times) stay after the containers are gone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

RUNS_DIR = Path(".cowait") / "runs"


class RunRecord:
    """The record folder of one run."""

    def __init__(self, project_dir: Path | str, run_id: str) -> None:
        self.project_dir = Path(project_dir)
        self.run_id = run_id
        self.dir = self.project_dir / RUNS_DIR / run_id
        self._events = None

    def create(self) -> "RunRecord":
        self.dir.mkdir(parents=True, exist_ok=True)
        gitignore = self.project_dir / ".cowait" / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("# cowait's local state: run records\n*\n")
        return self

    def append_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Add an event; a file that travelled in it (an executed notebook, a JUnit report) is kept beside it.
        Returns the event as recorded (without the file's data)."""
        if event.get("type") == "artifact" and "data" in event:
            event = self.save_artifact(event)
        if self._events is None:
            self._events = (self.dir / "events.jsonl").open("a")
        self._events.write(json.dumps(event, separators=(",", ":"), default=str) + "\n")
        self._events.flush()
        return event

    def save_artifact(self, event: dict[str, Any]) -> dict[str, Any]:
        """Write the file an artifact event carries (gzip, base64) into the record; the event
        without its data."""
        import base64
        import gzip

        name = Path(str(event.get("file") or f"{event.get('id', 'task')}-{event.get('name', 'file')}")).name  # never a path out
        (self.dir / name).write_bytes(gzip.decompress(base64.b64decode(event["data"])))
        return {k: v for k, v in event.items() if k != "data"} | {"file": name}

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None

    def write_summary(self, summary: dict[str, Any]) -> None:
        tmp = self.dir / "run.json.tmp"
        tmp.write_text(json.dumps(summary, indent=2, default=str))
        tmp.replace(self.dir / "run.json")

    def summary(self) -> dict[str, Any] | None:
        path = self.dir / "run.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def events(self) -> Iterator[dict[str, Any]]:
        path = self.dir / "events.jsonl"
        if not path.is_file():
            return
        with path.open() as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)

    def exists(self) -> bool:
        return self.dir.is_dir()


def list_records(project_dir: Path | str) -> list[RunRecord]:
    """Records of a project's runs, oldest first."""
    root = Path(project_dir) / RUNS_DIR
    if not root.is_dir():
        return []
    folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    return [RunRecord(project_dir, p.name) for p in folders]
