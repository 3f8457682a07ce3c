"""The dashboard in a real headless browser, on every engine: runs appear and update live, a failing
child's traceback, streamed logs, a rendered executed notebook, kill from the page; and what it
refuses: requests without the token, script in a task's output or a notebook's. Screenshots of the
main views are saved under artifacts/dashboard/."""

from __future__ import annotations

import json
import signal
import sys
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

from tests.scenarios.engines import Engine, run_id_of, tasks_of, wait_for
from tests.support.browser import chromium_path, screenshot

pytestmark = [pytest.mark.docker, pytest.mark.slow]
TIMEOUT = 120_000  # ms: a cluster's pods may take a while to report


@dataclass
class Board:
    url: str  # the printed link, with the token
    process: subprocess.Popen

    @property
    def base(self) -> str:
        return self.url.split("/?", 1)[0]

    @property
    def token(self) -> str:
        return self.url.split("token=", 1)[1]


@pytest.fixture(scope="module")
def board(engine: Engine):
    process = engine.start("dashboard")
    url = process.stdout.readline().strip()
    try:
        assert url.startswith("http://127.0.0.1:"), process.stderr.read() if process.poll() is not None else url
        yield Board(url, process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, process.stderr.read()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, board: Board):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(board.url)
    yield page
    context.close()
    assert not errors, errors


def open_run(page, run_id: str) -> None:
    """Click the run in the runs list (it arrives there by the page's live feed) and wait for its tree."""
    row = page.locator(f'#runs tr[data-run="{run_id}"]')
    row.click()
    try:
        page.locator(f'#tree button.task[data-task="{run_id}"]').wait_for()
    except Exception as exc:
        screenshot(page, f"failed-open-{run_id}")
        raise AssertionError(f"the tree of {run_id} did not show; notice: {page.locator('#notice').inner_text()!r}, "
                             f"tasks: {page.locator('#counts').inner_text()!r}") from exc


def task_status(page, task_id: str) -> str:
    return page.locator(f'#tree button.task[data-task="{task_id}"] .status').inner_text()


def wait_status(page, task_id: str, status: str) -> None:
    page.wait_for_function("([id, status]) => { const b = document.querySelector(`#tree button.task[data-task=\"${id}\"] .status`);"
                           " return b && b.textContent === status; }", arg=[task_id, status])


def test_a_fan_out_appears_and_updates_live_to_done_with_streamed_logs(engine: Engine, page):
    started = engine.on("run", "-d", "sleeper:sleepy", "-i", "children=3", "-i", "seconds=8")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    open_run(page, run_id)  # the run was started after the page loaded: it came in live
    page.wait_for_function("() => document.querySelectorAll('#tree button.task').length === 4")
    children = [c for c in page.locator("#tree button.task").evaluate_all("bs => bs.map(b => b.dataset.task)")
                if c != run_id]
    child = children[0]
    wait_status(page, child, "work")
    page.locator(f'#tree button.task[data-task="{child}"]').click()
    page.wait_for_function("() => document.getElementById('logs').textContent.includes('napping')")
    assert task_status(page, child) == "work", "the log line arrived only after the child had ended"
    screenshot(page, f"{engine.name}-fan-out-running")
    wait_status(page, run_id, "done")
    for each in children:
        assert task_status(page, each) == "done"
    page.wait_for_function("() => document.getElementById('run-status').textContent === 'done'")
    assert page.locator("#counts").inner_text().startswith("4 tasks: 4 done")
    screenshot(page, f"{engine.name}-fan-out-done")


def test_a_failing_child_shows_its_traceback(engine: Engine, page):
    done = engine.on("run", "failing:parent", "-i", "message=dashboard-boom")
    assert done.returncode == 1
    run_id = run_id_of(done)
    open_run(page, run_id)
    child = page.locator("#tree button.task", has_text="explode")
    child.click()
    error = page.locator("#error-text")
    error.wait_for()
    text = error.inner_text()
    assert "Traceback (most recent call last)" in text and "ValueError: dashboard-boom" in text
    assert task_status(page, run_id) == "fail"
    screenshot(page, f"{engine.name}-failing-child")


def test_a_notebook_run_shows_the_executed_notebook_without_its_script(engine: Engine, page):
    done = engine.on("notebook", "run", "html_output.ipynb", "-i", "x=6")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == 36
    run_id = run_id_of(done)
    open_run(page, run_id)
    frame = page.frame_locator("#notebook")
    frame.locator("#shown").wait_for()
    assert frame.locator("#shown").inner_text() == "square is 36"
    assert frame.locator(".cowait-cell-timing").count() == 4  # each code cell: its status and duration
    assert "<script>" in frame.locator("body").inner_text()  # printed text shows as text
    assert page.title() == "Cowait dashboard"  # neither script in the notebook ran
    screenshot(page, f"{engine.name}-notebook")


def test_kill_from_the_page_removes_the_containers(engine: Engine, page):
    started = engine.on("run", "-d", "sleeper:sleepy", "-i", "children=2", "-i", "seconds=300")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    wait_for(lambda: sum(t["status"] == "running" for t in tasks_of(engine, run_id)) == 3, what="3 tasks running")
    open_run(page, run_id)
    page.locator("#kill-run").click()
    dialog = page.locator("#confirm")
    assert "Kill run" in dialog.inner_text()
    screenshot(page, f"{engine.name}-kill-confirm")
    page.locator("#confirm-kill").click()
    page.wait_for_function("(id) => document.getElementById('notice').textContent === `killed ${id}`", arg=run_id)
    wait_for(lambda: not tasks_of(engine, run_id), what="the run's containers or pods to be gone")


def test_requests_without_the_token_are_refused(board: Board):
    def status(path: str, method: str = "GET", headers: dict[str, str] | None = None) -> int:
        request = urllib.request.Request(board.base + path, method=method, headers=headers or {},
                                         data=b"{}" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    for path in ("/", "/static/app.js", "/api/runs", "/api/runs/stream", "/api/runs/x/events"):
        assert status(path) == 401, path
    assert status("/api/runs/x/kill", "POST") == 401
    assert status("/?token=wrong") == 401
    assert status("/api/runs", headers={"Authorization": "Bearer wrong"}) == 401
    assert status("/api/runs", headers={"Cookie": "cowait_token_1=" + board.token}) == 401  # another port's
    assert status("/api/runs", headers={"Authorization": f"Bearer {board.token}"}) == 200
    # another name for 127.0.0.1 (DNS rebinding) and another site's page are refused even with the token
    assert status("/api/runs", headers={"Authorization": f"Bearer {board.token}", "Host": "evil.example"}) == 421
    assert status("/api/runs", headers={"Authorization": f"Bearer {board.token}", "Origin": "http://evil.example"}) == 403


def test_a_task_printing_script_runs_nothing(engine: Engine, page):
    done = engine.on("run", "hostile:shout")
    assert done.returncode == 0, done.stderr[-2000:]
    run_id = run_id_of(done)
    open_run(page, run_id)
    page.wait_for_function("() => document.getElementById('logs').textContent.includes('onerror')")
    assert "<script>window.cowaitPwned = true</script>" in page.locator("#logs").inner_text()
    assert "<script>" in page.locator("#result-text").inner_text()
    assert page.locator("#logs script, #logs img, #result-text script").count() == 0
    assert page.evaluate("() => window.cowaitPwned") is None


OPENER = '''import json, sys, urllib.request
url = sys.argv[1]
base, token = url.split("/?token=")[0], url.split("token=")[1].split("#")[0]
request = urllib.request.Request(base + "/api/runs", headers={"Authorization": "Bearer " + token})
runs = json.load(urllib.request.urlopen(request, timeout=30))["runs"]
with open(sys.argv[2], "w") as handle:
    json.dump({"url": url, "runs": runs}, handle)
'''


def test_run_with_dashboard_opens_the_run(engine: Engine, tmp_path):
    opener = tmp_path / "opener.py"
    opener.write_text(OPENER)
    seen = tmp_path / "seen.json"
    env = {**engine.env, "BROWSER": f"{sys.executable} {opener} %s {seen}"}
    done = subprocess.run([sys.executable, "-m", "cowait", "run", "--dashboard", "sleeper:sleepy", "-i", "children=1",
                           "-i", "seconds=4", *engine.args], cwd=engine.root, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    opened = json.loads(seen.read_text())
    first, then = done.stderr.splitlines()[:2]
    assert first == f"dashboard of this run: {opened['url']}"
    run_id = opened["url"].split("#run=")[1]
    assert then.split()[1] == run_id  # the live tree's first line names the run the link opens
    listed = {r["id"]: r for r in opened["runs"]}
    assert run_id in listed and listed[run_id]["live"]  # the page the browser got showed the run while it ran
