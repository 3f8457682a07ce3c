"""``cowait plugin install|uninstall``: manage the ``docker cowait`` CLI plugin."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click

MARKER = "# installed by 'cowait plugin install'"


def plugin_dir() -> Path:
    """The user's Docker CLI plugin folder (honours DOCKER_CONFIG)."""
    config = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    return Path(config) / "cli-plugins"


def plugin_path() -> Path:
    return plugin_dir() / "docker-cowait"


@click.group()
def plugin() -> None:
    """Install or remove the Docker CLI plugin, so 'docker cowait ...' works like 'cowait ...'."""


@plugin.command()
@click.option("--force", is_flag=True, help="Replace a docker-cowait that cowait did not write.")
def install(force: bool) -> None:
    """Write ~/.docker/cli-plugins/docker-cowait for this Python environment."""
    from cowait.cli.output import result
    from cowait.errors import UsageError

    path = plugin_path()
    if path.exists() and MARKER not in _read(path) and not force:
        raise UsageError(f"{path} exists and was not written by cowait", hint="use --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    script = f"#!/bin/sh\n{MARKER}\nexec {shlex.quote(sys.executable)} -m cowait.cli.plugin \"$@\"\n"
    path.write_text(script)
    path.chmod(0o755)
    result(f"installed {path}; try 'docker cowait --help'")
    import shutil

    if shutil.which("docker") is None:
        from cowait.cli.output import warning

        warning("there is no 'docker' command on PATH: 'docker cowait' works once the Docker CLI is installed "
                "('cowait' itself does not need it)")


@plugin.command()
def uninstall() -> None:
    """Remove the plugin that 'cowait plugin install' wrote."""
    from cowait.cli.output import result
    from cowait.errors import UsageError

    path = plugin_path()
    if not path.exists():
        result(f"{path} is not installed")
        return
    if MARKER not in _read(path):
        raise UsageError(f"{path} was not written by cowait; not removing it")
    path.unlink()
    result(f"removed {path}")


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
