"""Parsing of the CLI's repeated KEY=VALUE options (inputs, env, build args)."""

from __future__ import annotations

import json
from typing import Any

import click


class KeyValue(click.ParamType):
    """``KEY=VALUE``; with ``decode_json`` the value is JSON-decoded when it parses (``n=5`` gives 5)."""

    name = "KEY=VALUE"

    def __init__(self, decode_json: bool = False) -> None:
        self.decode_json = decode_json

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[str, Any]:
        if isinstance(value, tuple):
            return value
        key, sep, raw = str(value).partition("=")
        key = key.strip()
        if not sep or not key:
            self.fail(f"expected KEY=VALUE, got '{value}'", param, ctx)
        if not key.replace("-", "_").isidentifier():
            self.fail(f"'{key}' is not a valid name (letters, digits and _ only)", param, ctx)
        if self.decode_json:
            try:
                return key, json.loads(raw)
            except ValueError:
                return key, raw
        return key, raw


def pairs_to_dict(pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """Repeated KEY=VALUE options as a dict; a later key wins."""
    return dict(pairs)
