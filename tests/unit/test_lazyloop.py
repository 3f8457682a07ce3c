"""``cowait.runtime.lazyloop``: a task's coroutine runs as under ``asyncio.run``, and asyncio is
imported only when the task needs it. Each case runs in a fresh interpreter (pytest has asyncio)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def _run(body: str) -> dict:
    """Run ``body`` (defines ``async def main()``) through lazyloop; what it printed last, as JSON."""
    code = textwrap.dedent(body) + textwrap.dedent("""
        import json, sys
        from cowait.runtime import lazyloop
        try:
            out = {"result": lazyloop.run(main())}
        except BaseException as exc:
            out = {"error": f"{type(exc).__name__}: {exc}"}
        out["asyncio"] = "asyncio" in sys.modules
        out.update(globals().get("SEEN", {}))
        print(json.dumps(out))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_task_that_awaits_nothing_never_imports_asyncio():
    out = _run("""
        async def main():
            return sum(range(10))
    """)
    assert out == {"result": 45, "asyncio": False}


def test_asyncio_imported_inside_the_task_finds_a_running_loop_and_the_task_goes_on_in_it():
    out = _run("""
        SEEN = {}
        async def main():
            import asyncio
            loop = asyncio.get_running_loop()
            background = asyncio.create_task(asyncio.sleep(0.01, "bg"))
            await asyncio.sleep(0.01)
            SEEN["same_loop"] = asyncio.get_running_loop() is loop
            return [await background, await asyncio.wait_for(asyncio.sleep(0, "x"), 1)]
    """)
    assert out == {"result": ["bg", "x"], "asyncio": True, "same_loop": True}


def test_a_thread_of_the_task_that_imports_asyncio_runs_its_own_loop():
    out = _run("""
        import threading
        SEEN = {}
        def worker():
            import asyncio
            SEEN["thread"] = asyncio.run(asyncio.sleep(0, "own loop"))
        async def main():
            thread = threading.Thread(target=worker)
            thread.start()
            thread.join()
            return SEEN["thread"]
    """)
    assert out == {"result": "own loop", "asyncio": True, "thread": "own loop"}


def test_what_the_task_left_scheduled_is_cancelled_when_it_returns_without_waiting():
    out = _run("""
        SEEN = {}
        async def main():
            import asyncio

            async def forgotten():
                try:
                    await asyncio.sleep(30)
                except asyncio.CancelledError:
                    SEEN["cancelled"] = True
                    raise
            asyncio.get_running_loop().create_task(forgotten())
            return "done"
    """)
    assert out == {"result": "done", "asyncio": True, "cancelled": True}


def test_errors_come_out_before_and_after_the_first_wait():
    early = _run("""
        async def main():
            raise ValueError("early")
    """)
    assert early == {"error": "ValueError: early", "asyncio": False}
    late = _run("""
        async def main():
            import asyncio
            await asyncio.sleep(0.01)
            raise ValueError("late")
    """)
    assert late == {"error": "ValueError: late", "asyncio": True}


def test_an_exception_thrown_into_the_task_reaches_its_handler():
    out = _run("""
        async def main():
            import asyncio
            sleeper = asyncio.ensure_future(asyncio.sleep(30))
            asyncio.get_running_loop().call_later(0.05, sleeper.cancel)
            try:
                await sleeper
            except asyncio.CancelledError:
                return "handled"
    """)
    assert out == {"result": "handled", "asyncio": True}


def test_with_asyncio_already_imported_it_is_asyncio_run():
    out = _run("""
        import asyncio
        SEEN = {}
        async def main():
            SEEN["running"] = asyncio.get_running_loop().is_running()
            await asyncio.sleep(0)
            return 1
    """)
    assert out == {"result": 1, "asyncio": True, "running": True}
