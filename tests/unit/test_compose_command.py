"""Which Compose v2 cowait runs, and how its failures read."""

from __future__ import annotations

import subprocess

from cowait.engine.docker import compose


def test_without_a_docker_cli_the_bundled_binary_is_used(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker command at all
    compose.compose_command.cache_clear()
    try:
        command = compose.compose_command()
    finally:
        compose.compose_command.cache_clear()
    assert command == (str(compose.bundled_binary()),)
    version = subprocess.run([*command, "version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("Docker Compose version v2.")


def test_failure_line_drops_the_cli_usage_text():
    docker_without_compose = ("unknown shorthand flag: 'f' in -f\nSee 'docker --help'.\n\nUsage:  docker [OPTIONS] COMMAND\n\n"
                              "A self-sufficient runtime for containers\n\nRun 'docker --help' for more information\n")
    assert compose.failure_line(docker_without_compose) == "unknown shorthand flag: 'f' in -f"
    only_usage = "Usage:  docker [OPTIONS] COMMAND\n\nCommands:\n  run  Run a container\n\nRun 'docker --help' for more information\n"
    assert compose.failure_line(only_usage).startswith("it failed without saying why")
    daemon = (" Network cowait-x_default  Creating\n"
              "Error response from daemon: pull access denied for nosuch, repository does not exist\n")
    assert compose.failure_line(daemon) == "Error response from daemon: pull access denied for nosuch, repository does not exist"
