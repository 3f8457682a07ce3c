"""The runtime's pieces that need no engine: events, task definitions, task loading, the Task API."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from cowait.errors import CowaitError, TaskInputError, TaskNotFound
from cowait.runtime import events
from cowait.runtime.loader import load_task_class, ref_of
from cowait.runtime.task import Task, task
from cowait.runtime.taskdef import TASK_ENV, TaskDefinition, new_task_id, short_name


def test_parse_line_separates_output_and_events():
    line = events.MARKER + json.dumps({"type": "status", "id": "a", "status": "work"})
    assert events.parse_line("plain output") == ("plain output", None)
    assert events.parse_line(line) == (None, {"type": "status", "id": "a", "status": "work"})
    # output without a final newline, then an event on the same line: both survive
    assert events.parse_line("partial" + line)[0] == "partial"
    assert events.parse_line(events.MARKER + "{broken")[1] is None


def test_split_lines_joins_chunks_and_keeps_a_large_line_whole():
    big = b"x" * (3 * 1024 * 1024)
    chunks = [b"first\nsec", b"ond\n", big[:1000], big[1000:], b"\nlast"]
    assert [len(l) for l in events.split_lines(iter(chunks))] == [5, 6, len(big), 4]


def test_emit_writes_marker_lines(tmp_path):
    path = tmp_path / "out"
    with path.open("wb") as handle:
        events.set_output_fd(handle.fileno())
        try:
            events.emit({"type": "log", "id": "t", "line": "hello"})
        finally:
            events.set_output_fd(1)
    text, event = events.parse_line(path.read_text().rstrip("\n"))
    assert text is None and event["line"] == "hello" and "ts" in event


def test_task_definition_round_trips_and_reads_env_or_file(tmp_path, monkeypatch):
    taskdef = TaskDefinition(id="a-1", name="mod:A", run="a-1", image="img", inputs={"x": 1})
    assert TaskDefinition.from_json(taskdef.to_json()) == taskdef
    monkeypatch.setenv(TASK_ENV, taskdef.to_json())
    assert TaskDefinition.from_environment().inputs == {"x": 1}
    monkeypatch.delenv(TASK_ENV)
    path = tmp_path / "task.json"
    path.write_text(taskdef.to_json())
    monkeypatch.setenv("COWAIT_TASK_FILE", str(path))
    assert TaskDefinition.from_environment().id == "a-1"


def test_task_ids_are_readable_and_unique():
    assert short_name("pkg.my_module:BigTask") == "bigtask"
    assert short_name("hello") == "hello"
    ids = {new_task_id("hello") for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("hello-") and len(i) == 14 for i in ids)


@pytest.fixture
def module_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, source: str) -> None:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        sys.modules.pop(name, None)

    return write


def test_load_module_with_one_task(module_dir):
    module_dir("one_task", """
        import cowait
        from cowait import Task as Imported  # an imported class is not this module's task

        @cowait.task
        async def only(x: int) -> int:
            return x
    """)
    cls = load_task_class("one_task")
    assert cls.__qualname__ == "only" and cls.task_ref() == "one_task:only"


def test_load_errors_say_what_to_do(module_dir):
    module_dir("several", """
        import cowait

        class A(cowait.Task):
            async def run(self): ...

        @cowait.task
        def b(): ...
    """)
    with pytest.raises(TaskNotFound, match=r"module 'several' defines several tasks \(A, b\)"):
        load_task_class("several")
    assert load_task_class("several:b").__name__ == "b"
    with pytest.raises(TaskNotFound, match="'nope' in module 'several' is not a task"):
        load_task_class("several:nope")
    with pytest.raises(TaskNotFound, match="no module named 'missing_mod'"):
        load_task_class("missing_mod")
    module_dir("broken", "import not_installed_dependency\n")
    with pytest.raises(ModuleNotFoundError, match="not_installed_dependency"):
        load_task_class("broken")  # the user's own import error is not hidden


def test_constructing_a_task_outside_a_task_is_a_clear_error():
    @task
    async def lonely(): ...

    with pytest.raises(CowaitError, match="cannot start lonely: no task is running in this process"):
        lonely()
    with pytest.raises(TaskInputError, match=r"lonely\(\) takes keyword inputs only"):
        lonely(1)


def test_task_decorator_keeps_name_docs_and_signature():
    @task
    def Add(a: int, b: int = 2) -> int:
        """Adds."""
        return a + b

    assert issubclass(Add, Task) and Add.__name__ == "Add" and Add.__doc__ == "Adds."
    from cowait.runtime.task import run_function_of

    assert list(__import__("inspect").signature(run_function_of(Add)).parameters) == ["a", "b"]
    assert ref_of(Add)[0].endswith(":test_task_decorator_keeps_name_docs_and_signature.<locals>.Add")


def test_input_and_exit_outside_a_task():
    import cowait
    from cowait.runtime.task import TaskExit

    assert cowait.input("x", None) is None  # None is a real default (the original could not)
    with pytest.raises(TaskInputError, match="input 'x' is required"):
        cowait.input("x")
    with pytest.raises(TaskExit):
        cowait.exit(5)


def test_public_api_names():
    import cowait

    for name in ("Task", "task", "input", "exit", "join", "wait", "spawn", "sleep", "TaskError", "__version__"):
        assert getattr(cowait, name) is not None
