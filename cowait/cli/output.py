"""Terminal output: messages on stderr in docker/kubectl style, colour unless NO_COLOR."""

from __future__ import annotations

import os
import sys

import click


def color_enabled(stream=None) -> bool:
    """Colour only on a terminal and when NO_COLOR is unset (https://no-color.org)."""
    stream = stream or sys.stderr
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def _style(text: str, **kw) -> str:
    return click.style(text, **kw) if color_enabled() else text


def error(message: str) -> None:
    """One-line error on stderr."""
    click.echo(f"{_style('error:', fg='red', bold=True)} {message}", err=True)


def warning(message: str) -> None:
    """One-line warning on stderr."""
    click.echo(f"{_style('warning:', fg='yellow', bold=True)} {message}", err=True)


def info(message: str) -> None:
    """A progress note on stderr (stdout stays for results)."""
    click.echo(_style(message, dim=True), err=True)


def result(message: str) -> None:
    """What the command produced, on stdout."""
    click.echo(message)


def to_json(value: object) -> str:
    """A task result as JSON: datetimes as ISO 8601, arrays as lists."""
    import json

    def default(obj: object) -> object:
        if hasattr(obj, "isoformat"):
            return obj.isoformat()
        if hasattr(obj, "tolist"):
            return obj.tolist()
        return str(obj)

    return json.dumps(value, default=default)
