"""The Jinja2 environment of the shipped templates (StrictUndefined: a missing value is an error)."""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from typing import Any

from cowait.resources import data_path


def compose_quote(value: Any) -> str:
    """A YAML scalar for Compose: JSON-quoted, with ``$`` doubled so Compose does not interpolate it."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(compose_quote(v) for v in value) + "]"
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return json.dumps(value)
    return json.dumps(str(value).replace("$", "$$"))


@lru_cache(maxsize=None)
def environment(kind: str):
    """Jinja2 environment for ``templates/<kind>/``."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_path("templates", kind))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        auto_reload=False,  # shipped files: no stat of the file on every render
    )
    env.filters["q"] = compose_quote
    return env


_loading = threading.Lock()


def template(kind: str, name: str):
    """The compiled ``templates/<kind>/<name>``, compiled once per process: the threads of a
    fan-out render pods at once, and would each compile it (tens of milliseconds each) if they
    asked together first."""
    with _loading:
        return environment(kind).get_template(name)


def render(kind: str, name: str, **context: Any) -> str:
    """Render ``templates/<kind>/<name>`` with ``context``."""
    return template(kind, name).render(**context)
