"""Reading a task's inputs from its module's source, to refuse bad runs before any container."""

from __future__ import annotations

import pytest

from cowait.errors import TaskInputError, TaskNotFound
from cowait.runs.signature import check_task_inputs, module_tasks

SOURCE = '''
import cowait
from cowait import Task


@cowait.task
async def square(x: int, label: str = "x", *, when: "datetime" = None, **rest):
    return x


class Report(Task):
    async def run(self, day: int, flag: bool = False):
        return day


def helper():
    pass
'''


def test_finds_decorated_functions_and_task_classes(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text(SOURCE)
    assert sorted(module_tasks(path)) == ["Report", "square"]


def test_checks_inputs_like_the_container_would(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text(SOURCE)
    check_task_inputs(path, "mod:square", {"x": 3, "anything": 1})  # **rest takes extra inputs
    with pytest.raises(TaskInputError, match="input 'x' expects int, got 'three'"):
        check_task_inputs(path, "mod:square", {"x": "three"})
    with pytest.raises(TaskInputError, match=r"input 'day' \(int\) is required"):
        check_task_inputs(path, "mod:Report", {})
    with pytest.raises(TaskInputError, match="unknown input 'other'; it takes day, flag"):
        check_task_inputs(path, "mod:Report", {"day": 1, "other": 2})
    with pytest.raises(TaskNotFound, match=r"defines several tasks \(Report, square\)"):
        check_task_inputs(path, "mod", {})


def test_unreadable_source_is_left_to_the_container(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def (:\n")
    check_task_inputs(path, "broken", {"x": 1})  # no error here: the task reports its own SyntaxError
