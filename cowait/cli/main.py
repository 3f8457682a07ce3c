"""The ``cowait`` command: a click group whose subcommands are imported only when they run."""

from __future__ import annotations

import importlib
import os
import sys

import click

# name -> (module, attribute, one-line help). The help is here so `cowait --help` imports nothing.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "new": ("cowait.cli.new_cmd", "new", "Create a new project: cowait.yml, a task, a notebook and a test."),
    "build": ("cowait.cli.build_cmd", "build", "Build the project's task image."),
    "push": ("cowait.cli.build_cmd", "push", "Push the project's task image to its registry."),
    "run": ("cowait.cli.run_cmd", "run", "Run a task and its subtasks; show the tree, logs and result."),
    "notebook": ("cowait.cli.notebook_cmd", "notebook", "Start Jupyter Lab with the Cowait kernel; 'notebook run' runs one headless."),
    "up": ("cowait.cli.notebook_cmd", "up", "Start a long-running service: 'cowait up notebook'."),
    "test": ("cowait.cli.test_cmd", "test", "Run the project's pytest suite inside its image."),
    "ps": ("cowait.cli.tasks_cmd", "ps", "List running tasks (--all: ended runs too)."),
    "logs": ("cowait.cli.tasks_cmd", "logs", "Show or follow the log of a run or task."),
    "kill": ("cowait.cli.tasks_cmd", "kill", "Stop runs or tasks and remove their containers."),
    "rm": ("cowait.cli.tasks_cmd", "rm", "Remove the records of ended runs."),
    "render": ("cowait.cli.render_cmd", "render", "Print what a run would start: Compose project or Kubernetes manifests."),
    "cluster": ("cowait.cli.cluster_cmd", "cluster", "Manage clusters; 'cluster setup' creates their RBAC."),
    "config": ("cowait.cli.config_cmd", "config", "Show the merged configuration or its JSON Schema."),
    "dashboard": ("cowait.cli.dashboard_cmd", "dashboard", "Serve a live web page of this project's runs (alias: ui)."),
    "plugin": ("cowait.cli.plugin_cmd", "plugin", "Install or remove the 'docker cowait' CLI plugin."),
}
ALIASES = {"init": "new", "ui": "dashboard"}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        name = ALIASES.get(name, name)
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, _, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cowait", prog_name="cowait", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show tracebacks and engine details.")
def cli(debug: bool) -> None:
    """Package a project into an image and run it as tasks and notebooks, locally or on Kubernetes."""
    if debug:
        os.environ["COWAIT_DEBUG"] = "1"
        import logging

        # what the watcher, file share and port-forward threads met, with tracebacks
        logging.basicConfig(format="debug: %(name)s: %(message)s", stream=sys.stderr)
        logging.getLogger("cowait").setLevel(logging.DEBUG)


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("COWAIT_DEBUG") == "1"


def main(argv: list[str] | None = None, prog_name: str = "cowait") -> None:
    """Entry point: run the CLI, turning cowait errors into one line and an exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_requested(argv)
    from cowait.errors import CowaitError

    try:
        cli.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except CowaitError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        from cowait.cli.output import error

        error(str(exc))
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # a bug or an engine failure we did not foresee: still one line
        if debug:
            raise
        from cowait.cli.output import error

        error(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)")
        sys.exit(1)
