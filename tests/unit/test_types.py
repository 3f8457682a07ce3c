"""Typed inputs and outputs: wire encoding and conversion by annotations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Dict, List, Optional

import pytest

from cowait.errors import TaskInputError
from cowait.runtime.types import bind_inputs, check_output, convert, decode, encode


def test_encode_decode_round_trip_of_nested_values():
    value = {"when": datetime(2021, 2, 1, 10, 30), "day": date(2021, 2, 1), "items": (1, 2.5, "x", None, True),
             "nested": [{"deep": datetime(2020, 1, 1)}]}
    wire = encode(value)
    assert wire["when"] == {"@type": "datetime", "v": "2021-02-01T10:30:00"}
    back = decode(wire)
    assert back["when"] == value["when"] and back["day"] == value["day"]
    assert back["items"] == [1, 2.5, "x", None, True]
    assert back["nested"][0]["deep"] == datetime(2020, 1, 1)


def test_encode_refuses_what_has_no_wire_form():
    with pytest.raises(TypeError, match="a value of type object cannot be passed between tasks"):
        encode(object())
    with pytest.raises(TypeError, match="dict keys must be strings"):
        encode({1: "a"})


def test_numpy_values_when_numpy_is_present():
    np = pytest.importorskip("numpy")
    array = np.arange(6, dtype="int32").reshape(2, 3)
    wire = encode({"a": array, "s": np.float64(1.5), "i": np.int64(3)})
    assert wire["s"] == 1.5 and wire["i"] == 3
    back = decode(wire)
    assert back["a"].dtype == np.int32 and back["a"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert convert([1, 2], np.ndarray).tolist() == [1, 2]


@pytest.mark.parametrize("value, annotation, expected", [
    ("5", int, 5), (5.0, int, 5), (3, float, 3.0), ("2.5", float, 2.5), (20210201, str, "20210201"),
    ("true", bool, True), ("0", bool, False), ("2021-02-01T00:00:00", datetime, datetime(2021, 2, 1)),
    ("2021-02-01", date, date(2021, 2, 1)), (["1", 2], List[int], [1, 2]), ({"a": "1"}, Dict[str, int], {"a": 1}),
    (None, Optional[int], None), ("7", Optional[int], 7), ((1, 2), list, [1, 2]),
])
def test_convert_by_annotation(value, annotation, expected):
    assert convert(value, annotation) == expected


@pytest.mark.parametrize("value, annotation", [
    ("abc", int), (True, int), ("maybe", bool), ([1], dict), ("x", list), ({"a": 1}, str), (1.5, int),
])
def test_convert_refuses(value, annotation):
    with pytest.raises((ValueError, TypeError)):
        convert(value, annotation)


def test_bind_inputs_names_task_input_and_type():
    async def run(count: int, label: str = "x"):
        return count

    assert bind_inputs(run, {"count": "3"}, "t") == {"count": 3}
    with pytest.raises(TaskInputError, match=r"^task 't': input 'count' expects int, got 'many'"):
        bind_inputs(run, {"count": "many"}, "t")
    with pytest.raises(TaskInputError, match=r"^task 't': input 'count' \(int\) is required$"):
        bind_inputs(run, {}, "t")
    with pytest.raises(TaskInputError, match=r"unknown input 'other'; it takes count, label"):
        bind_inputs(run, {"count": 1, "other": 2}, "t")


def test_bind_inputs_passes_extras_to_var_keyword():
    async def run(path: str, **inputs):
        return path

    assert bind_inputs(run, {"path": "a", "date": 1}, "t") == {"path": "a", "date": 1}


def test_check_output_uses_the_return_annotation():
    def returns_int() -> int:
        return 0

    assert check_output("5", returns_int, "t") == 5
    with pytest.raises(TypeError, match="task 't' returned str, but is annotated to return int"):
        check_output("x", returns_int, "t")

    def guessed():
        return None

    assert check_output(datetime(2020, 1, 1), guessed, "t") == {"@type": "datetime", "v": "2020-01-01T00:00:00"}
