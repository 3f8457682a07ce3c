"""What `cowait run` shows: a live task tree, log lines prefixed and coloured by task, the result."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from datetime import datetime
from typing import Any

from cowait.cli.output import color_enabled
from cowait.runs.state import RunState

_COLORS = ["cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta", "bright_green",
           "bright_yellow", "bright_blue"]
_ICONS = {"queued": "·", "wait": "…", "work": "▶", "done": "✔", "fail": "✘", "stop": "■"}
_STATUS_STYLE = {"queued": "dim", "wait": "dim", "work": "yellow", "done": "green", "fail": "red", "stop": "red"}
_STATUS_ORDER = ["fail", "stop", "work", "wait", "queued", "done"]
COLLAPSE = 12  # more subtasks than this under one task show as counts per status, failures by name
SHOWN_FAILURES = 5


def task_color(task_id: str) -> str:
    digest = hashlib.md5(task_id.encode()).digest()
    return _COLORS[digest[0] % len(_COLORS)]


def _fmt_duration(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


class RunView:
    """Renders a run's events. Modes: ``tree`` (terminal), ``plain`` (logs/CI), ``json``, ``quiet``."""

    def __init__(self, root_id: str, mode: str | None = None, hide_logs_of: set[str] | None = None) -> None:
        self.state = RunState(root_id)
        self.hide_logs_of = hide_logs_of or set()
        if mode is None:
            mode = "tree" if sys.stderr.isatty() else "plain"
        self.mode = mode
        self.live = None
        self.console = None

    def __enter__(self) -> "RunView":
        if self.mode == "tree":
            from rich.console import Console
            from rich.live import Live

            self.console = Console(stderr=True, no_color=not color_enabled(), highlight=False)
            # the tree is drawn at the refresh rate, not per event: a fan-out of 1,000 sends thousands
            self.live = Live(get_renderable=self._tree, console=self.console, refresh_per_second=4,
                             transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc_info)
            self.live = None
            self.console.print(self._tree())

    # --- events -----------------------------------------------------------------------------
    def __call__(self, event: dict[str, Any]) -> None:
        before = self.state.tasks.get(event.get("id", ""))
        old_status = before.status if before else None
        task = self.state.apply(event)
        if self.mode == "json":
            print(json.dumps(event, default=str), flush=True)
            return
        if self.mode == "quiet" or task is None:
            return
        kind = event.get("type")
        if kind == "log":
            if task.id not in self.hide_logs_of:
                self._line(task.id, event.get("line", ""), event.get("ts"))
        elif self.mode == "plain" and (kind == "init" or task.status != old_status) and not event.get("queued"):
            self._plain_status(task, event)

    def _line(self, task_id: str, text: str, ts: float | None) -> None:
        if self.console is not None:
            from rich.text import Text

            line = Text()
            line.append(f"{task_id} ", style=task_color(task_id))
            line.append("| ", style="dim")
            line.append(text)
            self.console.print(line, soft_wrap=True)
        else:
            stamp = datetime.fromtimestamp(ts or time.time()).strftime("%H:%M:%S")
            print(f"{stamp} {task_id} | {text}", file=sys.stderr, flush=True)

    def _plain_status(self, task: Any, event: dict[str, Any]) -> None:
        stamp = datetime.fromtimestamp(event.get("ts") or time.time()).strftime("%H:%M:%S")
        kind = event.get("type")
        if kind == "init":
            parent = f" by {task.parent}" if task.parent else ""
            text = f"started {task.name}{parent}"
        elif task.status == "queued":
            text = f"queued {task.name}" + (f" by {task.parent}" if task.parent else "")
        elif task.status == "fail" and task.error:
            text = f"failed: {task.error.get('type', '')}: {task.error.get('message', '')}"
        elif task.status == "done":
            text = f"done in {_fmt_duration(task.duration)}: {_short(task.result)}"
        else:
            text = task.status
        print(f"{stamp} {task.id} * {text}", file=sys.stderr, flush=True)

    # --- tree -------------------------------------------------------------------------------
    def _tree(self):
        from rich.text import Text
        from rich.tree import Tree

        root = self.state.root
        tree = Tree(self._label(root), guide_style="dim")
        self._add_children(tree, root.id, depth=0)
        if not self.state.tasks:
            return Text("starting…", style="dim")
        return tree

    def _add_children(self, node: Any, parent_id: str, depth: int) -> None:
        children = self.state.children_of(parent_id)
        if len(children) > COLLAPSE:
            from rich.text import Text

            counts: dict[str, int] = {}
            for child in children:
                counts[child.status] = counts.get(child.status, 0) + 1
            line = Text(f"{len(children)} subtasks: ", style="dim")
            for index, status in enumerate(sorted(counts, key=_status_rank)):
                line.append(", " if index else "", style="dim")
                line.append(f"{counts[status]} {status}", style=_STATUS_STYLE.get(status, ""))
            node.add(line)
            failed = [child for child in children if child.status == "fail"]
            for child in failed[:SHOWN_FAILURES]:
                node.add(self._label(child))
            if len(failed) > SHOWN_FAILURES:
                node.add(Text(f"… {len(failed) - SHOWN_FAILURES} more failed", style="red"))
            return
        for child in children:
            branch = node.add(self._label(child))
            self._add_children(branch, child.id, depth + 1)

    def _label(self, task: Any):
        from rich.text import Text

        label = Text()
        label.append(f"{_ICONS.get(task.status, '?')} ", style=_STATUS_STYLE.get(task.status, ""))
        label.append(task.id, style=task_color(task.id))
        label.append(f"  {task.name}", style="bold")
        label.append(f"  {task.status} {_fmt_duration(task.duration)}", style=_STATUS_STYLE.get(task.status, ""))
        if task.status == "fail" and task.error:
            label.append(f"  {task.error.get('type', '')}: {_short(task.error.get('message', ''), 100)}", style="red")
        return label


def _status_rank(status: str) -> int:
    return _STATUS_ORDER.index(status) if status in _STATUS_ORDER else len(_STATUS_ORDER)
