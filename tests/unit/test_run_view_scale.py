"""The live tree at 1,000 subtasks: a few readable lines, counts per status, failures by name."""

import io

from rich.console import Console

from cowait.cli.run_view import RunView


def tree_text(view: RunView) -> str:
    console = Console(file=io.StringIO(), width=120, no_color=True)
    console.print(view._tree())
    return console.file.getvalue()


def test_a_wide_fan_out_collapses_into_counts_with_failures_named():
    view = RunView("root-1", mode="quiet")
    view({"type": "init", "id": "root-1", "name": "many", "parent": None})
    view({"type": "status", "id": "root-1", "status": "work"})
    for i in range(1000):
        view({"type": "init", "id": f"echo-{i}", "name": "echo", "parent": "root-1", "queued": True})
        view({"type": "status", "id": f"echo-{i}", "status": "queued"})
    for i in range(600):
        view({"type": "status", "id": f"echo-{i}", "status": "work"})
    for i in range(590):
        view({"type": "return", "id": f"echo-{i}", "result": i})
    for i in (3, 7):  # late failures among the done ones
        view({"type": "fail", "id": f"echo-{i}", "error": {"type": "ValueError", "message": f"bad {i}"}})
    text = tree_text(view)
    lines = text.strip().splitlines()
    assert len(lines) <= 5, text
    assert "1000 subtasks: 2 fail, 10 work, 400 queued, 588 done" in text
    assert "echo-3" in text and "ValueError: bad 3" in text and "echo-7" in text
