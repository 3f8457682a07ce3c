"""The dashboard server: uvicorn on 127.0.0.1, in a thread of the calling ``cowait`` process, so
``cowait dashboard`` and ``cowait run --dashboard`` serve it the same way and stop it with them."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from cowait.config import Project
from cowait.errors import CowaitError

HOST = "127.0.0.1"


class Dashboard:
    """A running dashboard of one project; a context manager that stops it on exit."""

    def __init__(self, project: Project, port: int | None = None) -> None:
        self.project = project
        self.requested_port = port or 0
        self.token = secrets.token_urlsafe(24)
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._sources: Any = None

    def start(self) -> "Dashboard":
        import uvicorn

        from cowait.dashboard.app import create_app
        from cowait.dashboard.sources import Sources

        self._sources = Sources(self.project)
        self._sources.start()
        config = uvicorn.Config(create_app(self._sources, self.token), host=HOST, port=self.requested_port,
                                log_level="warning", access_log=False, timeout_graceful_shutdown=1,
                                lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="dashboard-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._sources.stop()
                where = f"port {self.requested_port}" if self.requested_port else "a free port"
                raise CowaitError(f"the dashboard could not listen on {HOST}, {where}",
                                  hint="is the port taken? choose another with --port")
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def url(self, run_id: str | None = None) -> str:
        """The link to open: it carries the token once; ``run_id`` opens that run."""
        return f"http://{HOST}:{self.port}/?token={self.token}" + (f"#run={run_id}" if run_id else "")

    def wait(self) -> None:
        """Serve until interrupted (Ctrl-C)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)
        if self._sources is not None:
            self._sources.stop()

    def __enter__(self) -> "Dashboard":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def open_in_browser(url: str) -> None:
    """Open ``url`` in the user's browser ($BROWSER is honoured), quietly if there is none. In a
    thread: a $BROWSER command may not return until its window closes, and the run goes on meanwhile."""
    import webbrowser

    def opening() -> None:
        try:
            webbrowser.open(url)
        except webbrowser.Error:
            pass

    threading.Thread(target=opening, name="open-browser", daemon=True).start()
