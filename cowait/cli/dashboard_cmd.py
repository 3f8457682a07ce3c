"""``cowait dashboard`` (alias ``ui``): this project's runs, live, in a web page on 127.0.0.1."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import click


@click.command()
@click.option("--port", type=int, help="Local port (default: a free one).")
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a browser.")
def dashboard(port: int | None, open_browser: bool) -> None:
    """Serve a live page of this project's runs (Docker and clusters): task trees, logs, results,
    executed notebooks, kill. Only this machine can reach it, with the token in the printed link;
    Ctrl-C stops it."""
    from cowait.cli.output import info, result
    from cowait.cli.project import open_project
    from cowait.dashboard.server import Dashboard, open_in_browser

    project = open_project()
    with Dashboard(project, port) as board:
        try:  # Ctrl-C stops it cleanly from the moment its link is out
            result(board.url())
            info("the dashboard is ready (Ctrl-C stops it)")
            if open_browser:
                open_in_browser(board.url())
            board.wait()
        except KeyboardInterrupt:
            info("dashboard stopped")


dashboard_option = click.option("--dashboard", "with_dashboard", is_flag=True,
                                help="Open this run in the dashboard while it runs.")


@contextlib.contextmanager
def run_dashboard(project: Any, run_id: str) -> Iterator[None]:
    """Serve the dashboard for the length of a run and open the run in the browser."""
    from cowait.cli.output import info
    from cowait.dashboard.server import Dashboard, open_in_browser

    with Dashboard(project) as board:
        info(f"dashboard of this run: {board.url(run_id)}")
        open_in_browser(board.url(run_id))
        yield
