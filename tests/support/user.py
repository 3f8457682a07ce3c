"""A user's install of cowait: the built wheel in a fresh venv with no extras, run with an empty
Docker config (no CLI plugins, so no `docker compose`), a HOME of its own, and neither the test venv
nor its variables in the environment. What passes here passes for a user after `pip install cowait`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
# Variables of the test run that a user's shell does not have.
_DROP = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "TESTCONTAINERS_RYUK_DISABLED", "COWAIT_DEBUG",
         "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "DOCKER_CONFIG", "KUBECONFIG", "PYTEST_CURRENT_TEST",
         "PYTEST_ADDOPTS")


@dataclass
class Done:
    """How a command ended: its exit code and what it printed."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class UserInstall:
    """The venv a user's ``pip install`` made, and the environment to run its commands in."""

    venv: Path
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def run(self, *args: str, cwd: Path, timeout: float = 900, env: dict[str, str] | None = None,
            input: str | None = None) -> Done:
        """Run a command (``cowait ...``, ``git ...``, ``bash ...``) as the user, from their PATH."""
        done = subprocess.run(list(args), cwd=cwd, env={**self.env, **(env or {})}, capture_output=True, text=True,
                              timeout=timeout, input=input)
        return Done(done.returncode, done.stdout, done.stderr)

    def start(self, *args: str, cwd: Path, stderr: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start a long-running command (``cowait notebook``) in its own process group; its stderr
        goes to a file (a pipe nobody reads would block it)."""
        with stderr.open("w") as err:
            return subprocess.Popen(list(args), cwd=cwd, env={**self.env, **(env or {})}, stdout=subprocess.PIPE,
                                    stderr=err, text=True, start_new_session=True)


def build_wheel(target: Path) -> Path:
    """The wheel of this checkout, as `pip install cowait` would get it from PyPI."""
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(target), str(CHECKOUT)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = target.glob("cowait-*.whl")
    return wheel


def user_path() -> str:
    """The PATH without the test venv's bin folder (nor any other folder holding a cowait command)."""
    own = Path(sys.executable).parent
    kept = [p for p in os.environ.get("PATH", "").split(os.pathsep)
            if p and Path(p) != own and not (Path(p) / "cowait").exists()]
    return os.pathsep.join(kept)


def make_user_install(root: Path) -> UserInstall:
    """Build the wheel, install it (no extras) into a fresh venv, and prepare the user's environment."""
    wheel = build_wheel(root / "dist")
    venv = root / "venv"
    base_python = getattr(sys, "_base_executable", None) or "python3"
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True)
    # pip's own cache (the real HOME's) keeps reinstalls fast; it is not part of what the user has
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    home = root / "home"
    (home / "docker-config").mkdir(parents=True)  # empty: no compose plugin, no credentials
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env.update({"HOME": str(home), "DOCKER_CONFIG": str(home / "docker-config"),
                "PATH": f"{venv / 'bin'}{os.pathsep}{user_path()}",
                "GIT_AUTHOR_NAME": "Lab User", "GIT_AUTHOR_EMAIL": "user@example.com",
                "GIT_COMMITTER_NAME": "Lab User", "GIT_COMMITTER_EMAIL": "user@example.com"})
    return UserInstall(venv, home, env)


def interrupt(process: subprocess.Popen, timeout: float = 90) -> tuple[str, str]:
    """Ctrl-C, as a terminal sends it to the foreground process group; the rest of its output."""
    if process.poll() is not None:
        return process.communicate()
    os.killpg(process.pid, signal.SIGINT)
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.communicate()


def read_url(process: subprocess.Popen, stderr: Path, timeout: float = 600) -> str:
    """The first line `cowait notebook` prints on stdout: the notebook's URL (fails with its stderr)."""
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=1):
            line = process.stdout.readline()
            if line:
                return line.strip()
        if process.poll() is not None:
            break
    if process.poll() is None:
        interrupt(process)
    raise AssertionError(f"cowait notebook printed no URL: {stderr.read_text()[-4000:]}")
