"""The dashboard with the engine down: it serves the project's records, says which engine it cannot
reach, renders a recorded executed notebook without script, and keeps every route behind the token."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tests.support.browser import chromium_path, screenshot

RUN = "fanout-0a1b2c3d"
CHILD = "square-4e5f6a7b"


def write_record(project: Path) -> None:
    """A finished run's record as `cowait run` leaves it: events, summary, an executed notebook."""
    record = project / ".cowait" / "runs" / RUN
    record.mkdir(parents=True)
    start = time.time() - 60
    events = [
        {"type": "init", "id": RUN, "name": "fanout:FanOut", "parent": None, "inputs": {"n": 1}, "ts": start},
        {"type": "status", "id": RUN, "status": "work", "ts": start},
        {"type": "init", "id": CHILD, "name": "cowait.tasks.notebook", "parent": RUN, "inputs": {"x": 2},
         "resources": {"cpu": "500m", "memory": "256Mi"}, "ts": start + 1},
        {"type": "log", "id": CHILD, "line": "executed notebook: .cowait/runs/x", "ts": start + 2},
        {"type": "return", "id": CHILD, "result": 4, "ts": start + 3},
        {"type": "return", "id": RUN, "result": 4, "ts": start + 4},
    ]
    (record / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (record / "run.json").write_text(json.dumps({"id": RUN, "task": "fanout:FanOut", "status": "done",
                                                 "engine": "docker", "started": start, "ended": start + 4,
                                                 "result": 4, "error": None, "exit_code": 0}))
    cell = new_code_cell("print(x * x)", execution_count=1, metadata={
        "cowait": {"status": "done", "start": None, "end": None, "duration": 0.25}})
    cell.outputs = [new_output("stream", name="stdout", text="4\n"),
                    new_output("display_data", data={"text/html": "<b id='bold'>four</b><script>window.parent.document.title='pwned'</script>"})]
    nbformat.write(new_notebook(cells=[cell]), str(record / f"square-{CHILD}.ipynb"))


@pytest.fixture
def offline_board(tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "cowait.yml").write_text("version: 1\ncowait:\n  image: dashboard-records\n")
    write_record(project)
    env = {**os.environ, "HOME": str(tmp_path), "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    process = subprocess.Popen([sys.executable, "-m", "cowait", "dashboard"], cwd=project, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = process.stdout.readline().strip()
    try:
        assert url.startswith("http://127.0.0.1:"), process.stderr.read()
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(15)
    assert process.returncode == 0


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_records_are_served_while_the_engine_is_down(offline_board: str):
    base, token = offline_board.split("/?token=")
    auth = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 30
    while True:
        code, _, body = get(base + "/api/runs", **auth)
        snapshot = json.loads(body)
        if snapshot["engines"][0]["ok"] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert code == 200
    assert [r["id"] for r in snapshot["runs"]] == [RUN] and snapshot["runs"][0]["status"] == "done"
    docker = next(e for e in snapshot["engines"] if e["name"] == "docker")
    assert docker["ok"] is False and docker["message"]


def test_the_notebook_page_carries_no_script_and_a_sandbox(offline_board: str):
    base, token = offline_board.split("/?token=")
    code, headers, body = get(f"{base}/api/runs/{RUN}/notebook/{CHILD}", Authorization=f"Bearer {token}")
    assert code == 200
    policy = headers["content-security-policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy
    html = body.decode()
    assert "cell done in 0.25 s" in html
    head = html.split("<body", 1)[0]
    assert "<script" not in head and 'src="http' not in html and 'href="http' not in head  # no CDN
    assert get(f"{base}/api/runs/{RUN}/notebook/../../etc", Authorization=f"Bearer {token}")[0] == 404


def test_the_page_says_the_engine_is_down_and_shows_the_recorded_notebook(offline_board: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(offline_board + f"#run={RUN}")
        page.wait_for_function("() => document.getElementById('notice').textContent.includes('docker: not reachable')")
        assert "showing records only" in page.locator("#notice").inner_text()
        page.locator(f'#tree button.task[data-task="{CHILD}"]').click()
        page.locator("#task-facts", has_text="cpu 500m").wait_for()
        frame = page.frame_locator("#notebook")
        assert frame.locator("#bold").inner_text() == "four"
        assert page.title() == "Cowait dashboard"
        # the cookie the link set is the page's only credential, and script cannot read it
        cookie = next(c for c in page.context.cookies() if c["name"].startswith("cowait_token_"))
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert page.evaluate("() => document.cookie") == ""
        screenshot(page, "engine-down-records")
        browser.close()
    assert not errors, errors


WIDE = "wide-1a2b3c4d"


def write_wide_record(project: Path, children: int = 1000) -> None:
    """A recorded fan-out of ``children`` subtasks, the last one failed."""
    record = project / ".cowait" / "runs" / WIDE
    record.mkdir(parents=True)
    start = time.time() - 600
    events = [{"type": "init", "id": WIDE, "name": "queued:many", "parent": None, "inputs": {}, "ts": start}]
    for i in range(children):
        child = f"echo-{i:08x}"
        events.append({"type": "init", "id": child, "name": "queued:echo", "parent": WIDE, "inputs": {"i": i}, "ts": start + 1})
        if i == children - 1:
            events.append({"type": "fail", "id": child, "error": {"type": "ValueError", "message": "last",
                                                                  "traceback": "ValueError: last"}, "ts": start + 2})
        else:
            events.append({"type": "return", "id": child, "result": i, "ts": start + 2})
    events.append({"type": "fail", "id": WIDE, "error": {"type": "TaskError", "message": "a child failed"}, "ts": start + 3})
    (record / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (record / "run.json").write_text(json.dumps({"id": WIDE, "task": "queued:many", "status": "fail", "engine": "docker",
                                                 "started": start, "ended": start + 3}))


def test_a_thousand_subtasks_show_as_counts_and_the_tree_works_from_the_keyboard(tmp_path: Path, offline_board: str):
    from playwright.sync_api import expect, sync_playwright

    project = Path(offline_board_project(offline_board))
    write_wide_record(project)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(offline_board + f"#run={WIDE}")
        counts = page.locator(".group-counts").first
        # the events arrive in batches of 500: the counts grow until the last one is in
        expect(counts).to_have_text("1000 subtasks: 999 done · 1 fail", timeout=30_000)
        assert page.locator("#tree button.task").count() == 1  # a wide level starts collapsed
        root = page.locator(f'#tree button.task[data-task="{WIDE}"]')
        root.focus()
        page.keyboard.press("ArrowRight")  # expand: at most 100 shown, failures first
        page.wait_for_function("() => document.querySelectorAll('#tree button.task').length === 101")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        expect(page.locator("#error-text")).to_have_text("ValueError: last")
        page.locator("button.more").click()
        page.wait_for_function("() => document.querySelectorAll('#tree button.task').length === 1001")
        screenshot(page, "thousand-subtasks")
        browser.close()


def offline_board_project(url: str) -> str:
    """The project folder the dashboard at ``url`` shows."""
    base, token = url.split("/?token=")
    return json.loads(get(base + "/api/runs", Authorization=f"Bearer {token}")[2])["project"]
