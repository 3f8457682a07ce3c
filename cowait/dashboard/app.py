"""The dashboard's routes: the page, the runs and their events as server-sent events, executed
notebooks, and kill. Every route sits behind the token guard."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, AsyncIterator

from cowait.dashboard.guard import NOTEBOOK_POLICY, TokenGuard
from cowait.dashboard.sources import Sources

STATIC = Path(__file__).resolve().parent / "static"
BATCH = 500  # events per message of a run's stream
POLL = 0.2  # seconds between looks at a live feed


def create_app(sources: Sources, token: str) -> Any:
    """The ASGI application of the dashboard over ``sources``."""
    from sse_starlette import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def runs(request: Request) -> Response:
        return JSONResponse(sources.snapshot())

    async def runs_stream(request: Request) -> Response:
        async def snapshots() -> AsyncIterator[dict[str, str]]:
            seen = -1
            while True:
                if sources.version != seen:
                    seen = sources.version
                    yield {"event": "runs", "data": json.dumps(sources.snapshot(), default=str)}
                await asyncio.sleep(POLL)

        return EventSourceResponse(snapshots(), ping=15)

    async def run_events(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        feed = await run_in_threadpool(sources.feed, run_id)
        if feed is None:
            return JSONResponse({"error": f"no run {run_id}"}, status_code=404)

        async def batches() -> AsyncIterator[dict[str, str]]:
            nonlocal feed
            cursor = 0
            while True:
                if feed.done and feed.error and cursor == 0 and not feed.events:
                    # the run left its engine between the look and the follow: its record has it
                    feed = await run_in_threadpool(sources.recorded, run_id) or feed
                if len(feed.events) > cursor:
                    batch = feed.events[cursor:cursor + BATCH]
                    cursor += len(batch)
                    yield {"event": "events", "data": json.dumps(batch, default=str)}
                elif feed.done:
                    yield {"event": "end", "data": json.dumps({"error": feed.error})}
                    return
                else:
                    await asyncio.sleep(POLL)

        return EventSourceResponse(batches(), ping=15)

    async def notebook(request: Request) -> Response:
        from cowait.dashboard.notebook_html import render_notebook

        run_id, task_id = request.path_params["run_id"], request.path_params["task_id"]
        data = await run_in_threadpool(sources.notebook, run_id, task_id)
        if data is None:
            return Response("no executed notebook (yet)\n", status_code=404, media_type="text/plain",
                            headers={"content-security-policy": NOTEBOOK_POLICY})
        html = await run_in_threadpool(render_notebook, data)
        return HTMLResponse(html, headers={"content-security-policy": NOTEBOOK_POLICY})

    async def kill(request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "send JSON"}, status_code=415)  # a form from elsewhere cannot
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("task"), str):
            return JSONResponse({"error": "send {\"task\": TASK_ID}"}, status_code=400)
        run_id = request.path_params["run_id"]
        message = await run_in_threadpool(sources.kill, run_id, body["task"])
        return JSONResponse({"message": message})

    routes = [
        Route("/", page),
        Route("/api/runs", runs),
        Route("/api/runs/stream", runs_stream),
        Route("/api/runs/{run_id}/events", run_events),
        Route("/api/runs/{run_id}/notebook/{task_id}", notebook),
        Route("/api/runs/{run_id}/kill", kill, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC)),
    ]
    return TokenGuard(Starlette(routes=routes), token)
