"""The same scenarios on every engine: the local Docker engine, and the cluster that
COWAIT_TEST_KUBECONFIG names (k8sim in CI; a real cluster when given). A capability that works on
one engine and not the other fails here."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.scenarios.engines import Engine, core_api, run_id_of, tasks_of, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]
def test_fan_out_with_a_failing_child(engine: Engine):
    done = engine.on("run", "failing:parent", "-i", "message=scenario-boom")
    assert done.returncode == 1
    assert "ValueError: scenario-boom" in done.stderr.strip().splitlines()[-1]
    fanned = engine.on("run", "fanout:FanOut", "-i", "n=4", "-q")
    assert fanned.returncode == 0, fanned.stderr[-2000:]
    assert json.loads(fanned.stdout) == 0 + 1 + 4 + 9


def test_detached_run_then_ps_logs_and_kill(engine: Engine):
    started = engine.on("run", "-d", "sleeper:sleepy", "-i", "children=2", "-i", "seconds=300")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    hint = " -c live" if engine.args else ""
    assert f"cowait logs -f {run_id}{hint}" in started.stderr
    rows = wait_for(lambda: (lambda r: r if sum(t["status"] == "running" for t in r) == 3 else None)(
        tasks_of(engine, run_id)), what="the root and 2 children running")
    assert sum(1 for row in rows if row["parent"] == run_id) == 2
    assert {row["cluster"] for row in rows} == {"live" if engine.args else "docker"}
    wait_for(lambda: "napping" in engine.on("logs", run_id).stderr, what="the children's log lines")
    quiet = engine.on("ps", "-q")
    assert run_id in quiet.stdout.split()
    table = engine.on("ps").stdout.splitlines()  # in a pipe: whole rows, ids never cut short
    assert table[0].split()[:3] == ["TASK", "ID", "NAME"]
    assert any(line.split()[0] == run_id and "running" in line.split() for line in table[1:]), table

    killed = engine.on("kill", run_id[:12])
    assert killed.returncode == 0, killed.stderr
    assert killed.stdout.strip() == f"killed {run_id}"
    wait_for(lambda: not tasks_of(engine, run_id), what="the run's tasks to go")
    again = engine.on("kill", run_id)
    assert again.returncode == 2 and "is not running" in again.stderr


def test_logs_follow_reattaches_to_a_detached_run(engine: Engine):
    started = engine.on("run", "-d", "sleeper:sleepy", "-i", "children=2", "-i", "seconds=4")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    followed = engine.on("logs", "-f", run_id)
    assert followed.returncode == 0, followed.stderr
    assert followed.stdout.strip() == "[4.0, 4.0]"
    assert "napping" in followed.stderr
    summary = json.loads((engine.root / ".cowait" / "runs" / run_id / "run.json").read_text())
    assert summary["status"] == "done"
    ended = engine.on("ps", "--all", "--json")
    assert [row["status"] for row in json.loads(ended.stdout) if row["id"] == run_id] == ["done"]
    assert tasks_of(engine, run_id) == []  # nothing left on the engine


def test_kill_all_stays_in_the_project(engine: Engine, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(engine.root, other, ignore=shutil.ignore_patterns(".cowait"))
    env = {**os.environ, "HOME": str(engine.root.parent)}

    def in_other(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cowait", *args, *engine.args], cwd=other, env=env,
                              capture_output=True, text=True, timeout=300)

    theirs = in_other("run", "-d", "sleeper:nap", "-i", "seconds=300").stdout.strip()
    ours = engine.on("run", "-d", "sleeper:nap", "-i", "seconds=300").stdout.strip()
    try:
        wait_for(lambda: tasks_of(engine, ours), what="our run")
        killed = engine.on("kill", "--all")
        assert killed.returncode == 0, killed.stderr
        assert killed.stdout.split() == ["killed", ours]
        listed = json.loads(in_other("ps", "--json").stdout)
        assert [row["id"] for row in listed] == [theirs]  # the other project's run goes on
    finally:
        in_other("kill", "--all")


def test_shell_and_container_tasks(engine: Engine):
    shell = engine.on("run", "cowait.tasks.shell", "-i", "command=echo shell-says-hi && echo $FROM_CONFIG")
    assert shell.returncode == 0, shell.stderr[-2000:]
    assert json.loads(shell.stdout) == {"code": 0}
    assert "shell-says-hi" in shell.stderr and "config" in shell.stderr
    failing = engine.on("run", "cowait.tasks.shell", "-i", "command=exit 3")
    assert failing.returncode == 1 and "exited with code 3" in failing.stderr

    command = json.dumps(["python", "-c", "print('from another image', 6 * 7)"])
    container = engine.on("run", "cowait.tasks.container", "-i", f"image={engine.image}:latest",
                          "-i", f"command={command}")
    assert container.returncode == 0, container.stderr[-2000:]
    assert json.loads(container.stdout) == {"code": 0}
    assert "from another image 42" in container.stderr
    broken = engine.on("run", "cowait.tasks.container", "-i", f"image={engine.image}:latest",
                       "-i", "command=[\"python\", \"-c\", \"raise SystemExit(4)\"]")
    assert broken.returncode == 1 and "exited with code 4" in broken.stderr, broken.stderr[-2000:]


def test_limits_as_the_engine_reports_them(engine: Engine, docker_client):
    started = engine.on("run", "-d", "sleeper:nap", "-i", "seconds=120", "--cpu", "250m", "--cpu-limit", "500m",
                        "--memory", "64Mi", "--memory-limit", "128Mi")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    try:
        if engine.namespace:
            pod = wait_for(lambda: core_api().read_namespaced_pod(run_id, engine.namespace), what="the pod")
            [task] = [c for c in pod.spec.containers if c.name == "task"]
            assert task.resources.requests == {"cpu": "250m", "memory": "64Mi"}
            assert task.resources.limits == {"cpu": "500m", "memory": "128Mi"}
        else:
            host = docker_client.api.inspect_container(run_id)["HostConfig"]
            assert host["NanoCpus"] == 500_000_000
            assert host["CpuShares"] == 256  # the request: its share of the CPU under contention
            assert host["Memory"] == 128 * 2 ** 20 and host["MemoryReservation"] == 64 * 2 ** 20
    finally:
        engine.on("kill", run_id)
    docker_style = engine.on("run", "sleeper:nap", "-i", "seconds=1", "--memory", "256m")
    assert docker_style.returncode == 2
    assert docker_style.stderr.strip() == ("error: --memory: memory '256m' would be 256 thousandths of a byte "
                                           "(in Kubernetes' quantities m is milli); write 256Mi (or 256M)")


def test_the_executed_notebook_is_saved_in_the_record(engine: Engine):
    done = engine.on("notebook", "run", "square.ipynb", "-i", "x=4")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == 16
    run_id = run_id_of(done)
    [saved] = (engine.root / ".cowait" / "runs" / run_id).glob("square-*.ipynb")
    assert f"executed notebook: .cowait/runs/{run_id}/{saved.name}" in done.stderr
    import nbformat

    notebook = nbformat.read(saved, as_version=4)
    assert notebook.metadata["cowait"]["status"] == "completed"
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert [c.metadata["cowait"]["status"] for c in code] == ["completed", "completed", "completed", "skipped"]
    assert all(c.metadata["cowait"]["duration"] is not None for c in code[:3])
    assert "square of 4 is 16" in "".join(o.get("text", "") for o in code[1].outputs)


def test_cowait_test_with_junit(engine: Engine, tmp_path):
    report = tmp_path / "junit.xml"
    done = engine.on("test", "--junitxml", str(report), "-k", "square")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
    assert 'tests="1"' in report.read_text() and "test_square" in report.read_text()


def most_at_once(rows: list[list[float]]) -> int:
    """The most [i, start, end] intervals that overlap at one moment."""
    edges = sorted([(start, 1) for _, start, _ in rows] + [(end, -1) for _, _, end in rows],
                   key=lambda edge: (edge[0], edge[1]))
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def json_run(engine: Engine, *args: str) -> tuple[list[dict[str, Any]], Any]:
    """(every event, the root's result) of a run with --json."""
    done = engine.on("run", *args, "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    root = next(e["id"] for e in events if e.get("type") == "init" and not e.get("parent"))
    [result] = [e["result"] for e in events if e.get("type") == "return" and e.get("id") == root]
    return events, result


def test_the_bound_on_running_subtasks_keeps_the_queue_in_order(engine: Engine):
    events, rows = json_run(engine, "queued:wide", "-i", "n=6", "-i", "seconds=2", "--parallelism", "2")
    assert [row[0] for row in rows] == list(range(6))
    assert most_at_once(rows) == 2  # the bound is used, and never passed
    starts = [start for _, start, _ in rows]
    assert all(starts[i] < starts[i + 2] for i in range(4))  # a later subtask waits for an earlier one's slot
    children = {e["id"] for e in events if e.get("type") == "init" and e.get("parent")}
    queued = {e["id"] for e in events if e.get("type") == "status" and e.get("status") == "queued"}
    assert len(children) == 6 and queued == children  # each is shown queued before it runs


@pytest.mark.parametrize("bound", [1, 2])
def test_nested_fan_out_under_the_bound_does_not_deadlock(engine: Engine, bound: int):
    _, rows = json_run(engine, "queued:nested", "-i", "parents=2", "-i", "n=3", "-i", "seconds=1",
                       "--parallelism", str(bound))
    assert len(rows) == 6
    assert most_at_once(rows) <= bound  # the leaves of a waiting parent use its slot, never more


def test_a_notebook_subtasks_own_subtasks_count_against_the_bound(engine: Engine):
    _, rows = json_run(engine, "queued:notebooks", "-i", "parents=2", "-i", "n=3", "-i", "seconds=1",
                       "--parallelism", "2")
    assert sorted(row[0] for row in rows) == [0, 0, 1, 1, 2, 2]
    assert most_at_once(rows) <= 2  # a notebook waiting on its leaves lends them its slot, never more


def test_a_subtask_frees_its_slot_when_it_returns_not_when_its_process_ends(engine: Engine):
    # each subtask tidies up for 8 s after its result (as a notebook's kernel shutting down does);
    # at --parallelism 1 the next one starts without waiting for that
    _, rows = json_run(engine, "queued:one_after_another", "-i", "n=2", "-i", "seconds=8", "--parallelism", "1")
    assert [row[0] for row in rows] == [0, 1]
    assert rows[1][1] - rows[0][1] < 5, rows


def test_ctrl_c_with_a_full_queue_leaves_nothing(engine: Engine):
    proc = subprocess.Popen([sys.executable, "-m", "cowait", "run", "queued:wide", "-i", "n=12", "-i", "seconds=300",
                             "--parallelism", "1", *engine.args], cwd=engine.root,
                            env={**os.environ, "HOME": str(engine.root.parent)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def one_leaf_running() -> Any:
            rows = json.loads(engine.on("ps", "--json").stdout or "[]")
            runs = {row["run"] for row in rows if row["name"] == "queued:wide"}
            leaves = [row for row in rows if row["name"] == "queued:leaf" and row["status"] == "running"]
            return runs if len(runs) == 1 and leaves else None

        [run_id] = wait_for(one_leaf_running, what="the first subtask of the queue running")
        time.sleep(1)
        leaves = [row for row in tasks_of(engine, run_id) if row["name"] == "queued:leaf"]
        # ps shows the queue: one subtask running, the other eleven queued (they have no container yet)
        assert sorted(row["status"] for row in leaves) == ["queued"] * 11 + ["running"], leaves
        table = engine.on("ps")
        status_cells = [line for line in table.stdout.splitlines() if re.search(r"\squeued\s", line)]
        assert table.returncode == 0 and len(status_cells) == 11, table.stdout
        proc.send_signal(2)
        proc.communicate(timeout=120)
        assert proc.returncode == 130
        # on a cluster the garbage collector takes the root pod's tree after the CLI has gone
        wait_for(lambda: not tasks_of(engine, run_id), timeout=60, what="every task of the run to go")
        time.sleep(3)
        assert tasks_of(engine, run_id) == []  # and none of the queue started meanwhile
        summary = json.loads((engine.root / ".cowait" / "runs" / run_id / "run.json").read_text())
        assert summary["status"] == "stop"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_thousand_subtasks_from_one_parent(engine: Engine):
    bound = int(os.environ.get("COWAIT_TEST_THOUSAND_PARALLELISM", "8"))
    events, result = json_run(engine, "queued:many", "-i", "n=1000", "--parallelism", str(bound))
    assert result["results"] == list(range(1000))  # every result, in order
    # the parent holds a watcher thread per running subtask (and per subtask that returned and
    # whose process is still ending), not one per queued subtask
    assert result["threads_peak"] <= 3 * bound + 6, result
    print(f"\n{engine.name}: parent's peak RSS at 1,000 subtasks: {result['rss_peak_mib']:.1f} MiB, "
          f"peak threads {result['threads_peak']}")
    returned = {e["id"] for e in events if e.get("type") == "return"}
    children = {e["id"] for e in events if e.get("type") == "init" and e.get("parent")}
    assert len(children) == 1000 and children <= returned  # --json carries every subtask's events
