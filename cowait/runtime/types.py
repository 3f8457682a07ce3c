"""Typed inputs and outputs: wire encoding, and conversion by a function's annotations.

On the wire every value is JSON; values JSON has no type for are tagged objects
(``{"@type": "datetime", "v": "..."}``), so a datetime or a numpy array arrives as one.
"""

from __future__ import annotations

import inspect
import sys
import typing
from datetime import date, datetime
from typing import Any, Callable

from cowait.errors import TaskInputError as InputError

TAG = "@type"


def _numpy():
    # numpy is optional and heavy: only touch it when the user's code already imported it
    return sys.modules.get("numpy")


def encode(value: Any) -> Any:
    """A JSON-able form of ``value``; raises TypeError for a type that has no wire form."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {TAG: "date", "v": value.isoformat()}
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"dict keys must be strings to pass between tasks, got {type(key).__name__}")
            out[key] = encode(item)
        return out
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return [encode(item) for item in sorted(value, key=repr)]
    np = _numpy()
    if np is not None:
        if isinstance(value, np.ndarray):
            return {TAG: "ndarray", "dtype": str(value.dtype), "v": value.tolist()}
        if isinstance(value, np.generic):
            return value.item()
    raise TypeError(f"a value of type {type(value).__name__} cannot be passed between tasks "
                    "(use JSON types, datetime or numpy)")


def decode(value: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        tag = value.get(TAG)
        if tag == "datetime":
            return datetime.fromisoformat(value["v"])
        if tag == "date":
            return date.fromisoformat(value["v"])
        if tag == "ndarray":
            import numpy

            return numpy.array(value["v"], dtype=value["dtype"])
        return {key: decode(item) for key, item in value.items()}
    return value


def describe(annotation: Any) -> str:
    """A readable name of a type annotation."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return "any"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def convert(value: Any, annotation: Any) -> Any:
    """Convert ``value`` to ``annotation``; raise ValueError when it cannot be."""
    if annotation is inspect.Parameter.empty or annotation is Any or annotation is None and value is None:
        return value
    if isinstance(annotation, str):  # a forward reference we cannot resolve: take the value as it is
        return value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or (sys.version_info >= (3, 10) and origin is getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return convert(value, option)
            except (ValueError, TypeError) as exc:
                errors.append(str(exc))
        raise ValueError(f"expected {describe(annotation)}")
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
            raise ValueError("expected a list")
        item_type = args[0] if args and (origin is not tuple or (len(args) == 2 and args[1] is Ellipsis)) else Any
        items = [convert(item, item_type) for item in value]
        target = origin or annotation
        return target(items) if target in (tuple, set, frozenset) else items
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ValueError("expected a dict")
        key_type, item_type = args if len(args) == 2 else (Any, Any)
        return {convert(k, key_type): convert(v, item_type) for k, v in value.items()}
    if origin is typing.Literal:
        if value in args:
            return value
        raise ValueError(f"expected one of {', '.join(repr(a) for a in args)}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ValueError("expected a bool")
    if annotation is int:
        if isinstance(value, bool):
            raise ValueError("expected an int")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            return int(value.strip())
        raise ValueError("expected an int")
    if annotation is float:
        if isinstance(value, bool):
            raise ValueError("expected a float")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            return float(value.strip())
        raise ValueError("expected a float")
    if annotation is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # `-i date=20210201` decodes to an int; a str input still gets "20210201"
        raise ValueError("expected a str")
    if annotation is datetime:
        if isinstance(value, datetime):
            return value
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        raise ValueError("expected a datetime (ISO 8601 text)")
    if annotation is date:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            return date.fromisoformat(value)
        raise ValueError("expected a date (YYYY-MM-DD)")
    np = _numpy() if getattr(annotation, "__module__", "") == "numpy" else None
    if np is not None:
        if annotation is np.ndarray:
            return value if isinstance(value, np.ndarray) else np.array(value)
        if isinstance(annotation, type) and issubclass(annotation, np.generic):
            return annotation(value)
    if isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
        raise ValueError(f"expected {annotation.__name__}")
    return value


def bind_inputs(func: Callable[..., Any], inputs: dict[str, Any], task_name: str) -> dict[str, Any]:
    """Check ``inputs`` against ``func``'s signature and convert them by its annotations.

    Raises InputError naming the task, the input and the expected type.
    """
    signature = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        hints = {}
    params = signature.parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    bound: dict[str, Any] = {}
    for name, param in params.items():
        if name == "self" or param.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            continue
        annotation = hints.get(name, param.annotation)
        if name not in inputs:
            if param.default is inspect.Parameter.empty:
                raise InputError(f"task '{task_name}': input '{name}' ({describe(annotation)}) is required")
            continue
        try:
            bound[name] = convert(inputs[name], annotation)
        except (ValueError, TypeError) as exc:
            shown = repr(inputs[name])
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise InputError(
                f"task '{task_name}': input '{name}' expects {describe(annotation)}, got {shown} ({exc})"
            ) from None
    extra = [name for name in inputs if name not in bound and name not in params]
    if extra and not accepts_any:
        raise InputError(f"task '{task_name}': unknown input {', '.join(repr(n) for n in extra)}; "
                         f"it takes {', '.join(n for n in params if n != 'self') or 'no inputs'}")
    for name in extra:
        bound[name] = inputs[name]
    return bound


def check_output(value: Any, func: Callable[..., Any], task_name: str) -> Any:
    """Convert a return value by the return annotation (when there is one) and encode it."""
    try:
        annotation = typing.get_type_hints(func).get("return", inspect.Parameter.empty)
    except Exception:
        annotation = inspect.signature(func).return_annotation
    if annotation not in (inspect.Parameter.empty, None, type(None)):
        try:
            value = convert(value, annotation)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"task '{task_name}' returned {type(value).__name__}, "
                            f"but is annotated to return {describe(annotation)} ({exc})") from None
    return encode(value)
