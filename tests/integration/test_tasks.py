"""Tasks and subtasks on the real Docker engine, through the real `cowait` command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import fixture_project

pytestmark = pytest.mark.docker

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The fixture project, copied and built once for this module under a unique image name."""
    with fixture_project("tasks", tmp_path_factory.mktemp("tasks")) as root:
        yield root


@pytest.fixture(scope="module")
def docker_client_module():
    from cowait.engine.docker.client import docker_client

    return docker_client()


def run_containers(docker_client, run_id: str) -> list:
    return docker_client.containers.list(all=True, filters={"label": f"cowait.run={run_id}"})


def test_fan_out_to_eight_children_returns_the_sum(cowait, project, docker_client):
    result = cowait("run", "fanout:FanOut", "-i", "n=8", cwd=project)
    assert result.code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1]) == sum(i * i for i in range(8))
    # the tree and the children's log lines were shown
    assert result.stderr.count("started fanout:square") == 8
    assert "squaring 7" in result.stderr
    run_id = result.stderr.split()[1]
    assert run_containers(docker_client, run_id) == []
    assert docker_client.networks.list(filters={"label": f"cowait.run={run_id}"}) == []
    summary = json.loads((project / ".cowait" / "runs" / run_id / "run.json").read_text())
    assert summary["status"] == "done" and summary["result"] == 140


def test_failing_child_reaches_the_cli_with_exit_1(cowait, project, docker_client):
    result = cowait("run", "failing:parent", "-i", "message=kaboom-42", cwd=project)
    assert result.code == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: parent-")
    assert "ValueError: kaboom-42" in last
    assert 'raise ValueError(message)' in result.stderr  # the child's traceback is shown
    run_id = last.split()[1]
    assert run_containers(docker_client, run_id) == []


def test_parent_failure_removes_its_running_children(cowait, project, docker_client):
    result = cowait("run", "sleeper:crash_with_children", cwd=project)
    assert result.code == 1
    assert "RuntimeError: parent crashed" in result.stderr
    run_id = result.stderr.strip().splitlines()[-1].split()[1]
    assert run_containers(docker_client, run_id) == []


def test_typed_inputs_and_outputs_round_trip(cowait, project):
    result = cowait("run", "typed:describe", "-i", "count=3", "-i", "ratio=1.5", "-i", "label=20210201",
                    "-i", "flag=true", "-i", "when=2021-02-01T10:00:00", "-i", "items=[1,2]",
                    "-i", 'mapping={"a":1}', cwd=project)
    assert result.code == 0, result.output
    value = json.loads(result.stdout.strip().splitlines()[-1])
    assert value["types"] == ["int", "float", "str", "bool", "datetime", "list", "dict", "NoneType"]
    assert value["label"] == "20210201"  # -i decoded an int; the annotation made it a str
    assert value["sum"] == 4.5
    assert value["when_plus_year"] == "2022-02-01T10:00:00"
    child = cowait("run", "typed:via_child", "-i", "when=2020-01-01T00:00:00", "-q", cwd=project)
    assert child.code == 0, child.output
    assert json.loads(child.stdout)["types"][:4] == ["int", "float", "str", "bool"]


def test_bad_input_is_refused_before_any_container_starts(cowait, project, docker_client):
    mine = {"label": f"cowait.project_dir={project}"}
    before = len(docker_client.containers.list(all=True, filters=mine))
    result = cowait("run", "typed:describe", "-i", "count=many", cwd=project)
    assert result.code == 2
    assert result.stderr.strip() == ("error: task 'typed:describe': input 'count' expects int, got 'many' "
                                     "(invalid literal for int() with base 10: 'many')")
    missing = cowait("run", "fanout:square", cwd=project)
    assert missing.code == 2
    assert missing.stderr.strip() == "error: task 'fanout:square': input 'x' (int) is required"
    unknown = cowait("run", "fanout:square", "-i", "x=1", "-i", "y=2", cwd=project)
    assert unknown.code == 2 and "unknown input 'y'; it takes x" in unknown.stderr
    assert len(docker_client.containers.list(all=True, filters=mine)) == before == 0


def test_bad_input_of_a_subtask_fails_in_the_parent(cowait, project):
    result = cowait("run", "typed:bad_child", cwd=project)
    assert result.code == 1
    assert "task 'typed:describe': input 'count' expects int, got 'many'" in result.stderr
    assert result.stderr.count("started typed:describe") == 0  # refused before its container started


def test_shell_and_container_builtin_tasks(cowait, project):
    ok = cowait("run", "cowait.tasks.shell", "-i", "command=echo from-shell", cwd=project)
    assert ok.code == 0, ok.output
    assert "from-shell" in ok.stderr and ok.stdout.strip() == '{"code": 0}'
    failed = cowait("run", "cowait.tasks.shell", "-i", "command=exit 7", cwd=project)
    assert failed.code == 1 and "exited with code 7" in failed.stderr
    container = cowait("run", "cowait.tasks.container", "-i", "image=python:3.11-slim",
                       "-i", 'command=["python", "-c", "print(6*7)"]', cwd=project)
    assert container.code == 0, container.output
    assert "| 42" in container.stderr
    bad = cowait("run", "cowait.tasks.container", "-i", "image=python:3.11-slim",
                 "-i", 'command=["python", "-c", "raise SystemExit(4)"]', cwd=project)
    assert bad.code == 1 and "exited with code 4" in bad.stderr


def test_ten_megabyte_input_and_output(cowait, project, tmp_path):
    data = "0123456789abcdef" * (10 * 1024 * 1024 // 16)
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"data": data}))
    result = cowait("run", "big:relay", "-f", str(inputs), "-q", cwd=project)
    assert result.code == 0, result.stderr[-2000:]
    import hashlib

    assert json.loads(result.stdout) == {"length": len(data), "sha256": hashlib.sha256(data.encode()).hexdigest()}


def test_child_lost_without_result_fails_its_handle_within_a_second(cowait, project):
    result = cowait("run", "lost:watcher", "-q", cwd=project)
    assert result.code == 0, result.output
    caught = json.loads(result.stdout)
    assert "exited with code 3 without returning a result" in caught["message"]
    run_id = None
    for record in (project / ".cowait" / "runs").iterdir():
        events = (record / "events.jsonl").read_text()
        if caught["task"] in events:
            run_id = record.name
            died_line = [json.loads(l) for l in events.splitlines() if "dying at" in l][0]
            died_at = float(died_line["line"].split()[-1])
            assert caught["caught_at"] - died_at < 1.0
    assert run_id is not None


def test_unawaited_failing_child_fails_the_parent(cowait, project):
    result = cowait("run", "lost:forgets", cwd=project)
    assert result.code == 1
    assert "never awaited" in result.stderr


def test_environment_order_and_inheritance(cowait, project):
    names = '["FROM_CONFIG","FROM_DOTENV","OVERRIDE_ME","FROM_CLI","ONLY"]'
    result = cowait("run", "env_task:env_tree", "-i", f"names={names}", "-e", "FROM_CLI=cli",
                    "-e", "OVERRIDE_ME=cli", "-q", cwd=project)
    assert result.code == 0, result.output
    tree = json.loads(result.stdout)
    expected = {"FROM_CONFIG": "config", "FROM_DOTENV": "dotenv", "OVERRIDE_ME": "cli", "FROM_CLI": "cli", "ONLY": None}
    assert tree["parent"] == expected
    assert tree["inherited"] == expected
    assert tree["isolated"] == {"FROM_CONFIG": None, "FROM_DOTENV": None, "OVERRIDE_ME": None, "FROM_CLI": None,
                                "ONLY": "this"}


def test_task_reference_errors(cowait, project):
    several = cowait("run", "two", cwd=project)
    assert several.code == 2
    assert "module 'two' defines several tasks (first, second)" in several.stderr
    assert cowait("run", "two:second", "-q", cwd=project).stdout.strip() == "2"
    missing = cowait("run", "nothere", cwd=project)
    assert missing.code == 2
    assert missing.stderr.strip() == f"error: task 'nothere': no nothere.py in {project} (name a module of the project, e.g. 'cowait run hello' for hello.py)"


def test_json_and_quiet_output(cowait, project):
    quiet = cowait("run", "fanout:FanOut", "-i", "n=2", "-q", cwd=project)
    assert quiet.stdout.strip() == "1" and quiet.stderr == ""
    as_json = cowait("run", "fanout:FanOut", "-i", "n=2", "--json", cwd=project)
    events = [json.loads(line) for line in as_json.stdout.splitlines()]
    kinds = {e["type"] for e in events}
    assert {"init", "status", "return", "log"} <= kinds
    assert [e["result"] for e in events if e["type"] == "return" and e["id"].startswith("fanout-")] == [1]


def test_ctrl_c_stops_and_removes_the_whole_tree(project, docker_client, isolated_home):
    proc = subprocess.Popen([sys.executable, "-m", "cowait", "run", "sleeper:sleepy", "-i", "children=3"],
                            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_id = _wait_for_children(docker_client, 3, project=project)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"run {run_id} stopped" in err
    assert run_containers(docker_client, run_id) == []
    assert docker_client.networks.list(filters={"label": f"cowait.run={run_id}"}) == []


def test_kill_9_of_the_cli_leaves_the_run_going_and_logs_f_reattaches(cowait, project, docker_client):
    proc = subprocess.Popen([sys.executable, "-m", "cowait", "run", "sleeper:sleepy", "-i", "children=2",
                             "-i", "seconds=6"], cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_id = _wait_for_children(docker_client, 2, project=project)
    proc.kill()
    proc.wait()
    assert len(run_containers(docker_client, run_id)) == 3  # still going, detached
    listed = cowait("ps", cwd=project)
    assert run_id in listed.stdout
    follow = cowait("logs", "-f", run_id[:12], cwd=project)
    assert follow.code == 0, follow.output
    assert follow.stdout.strip() == "[6.0, 6.0]"
    assert run_containers(docker_client, run_id) == []
    ended = cowait("ps", "--all", cwd=project)
    assert any(line.startswith(run_id) and " done " in line for line in ended.stdout.splitlines())


def test_detached_run_ps_logs_kill(cowait, project, docker_client):
    started = cowait("run", "-d", "sleeper:sleepy", cwd=project)
    assert started.code == 0, started.output
    run_id = started.stdout.strip()
    _wait_for_children(docker_client, 2, run_id=run_id)
    listed = cowait("ps", "--json", cwd=project)
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert rows[run_id]["status"] == "running"
    assert sum(1 for row in rows.values() if row["parent"] == run_id) == 2
    logs = cowait("logs", run_id, cwd=project)
    assert "napping" in logs.stderr
    child_ids = sorted(row["id"] for row in rows.values() if row["parent"] == run_id)
    shared = os.path.commonprefix(child_ids)  # both children are nap-<hex>: at least "nap-"
    ambiguous = cowait("kill", shared, cwd=project)
    assert ambiguous.code == 1 and "matches several tasks" in ambiguous.stderr, ambiguous.output
    assert len(run_containers(docker_client, run_id)) == 3
    killed = cowait("kill", run_id[:10], cwd=project)
    assert killed.code == 0, killed.output
    assert killed.stdout.strip() == f"killed {run_id}"
    assert run_containers(docker_client, run_id) == []
    again = cowait("kill", run_id, cwd=project)
    assert again.code == 2 and "is not running" in again.stderr
    nothing = cowait("logs", "no-such-run", cwd=project)
    assert nothing.code == 1 and "no task or run 'no-such-run'" in nothing.stderr
    removed = cowait("rm", run_id, cwd=project)
    assert removed.stdout.strip() == f"removed {run_id}"
    assert not (project / ".cowait" / "runs" / run_id).exists()


def test_two_runs_at_once_do_not_collide(project, isolated_home):
    procs = [subprocess.Popen([sys.executable, "-m", "cowait", "run", "fanout:FanOut", "-i", f"n={n}", "-q"], cwd=project,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in (3, 4)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert [json.loads(out) for out, _ in outputs] == [5, 14]


def test_resource_limits_are_applied(cowait, project, docker_client):
    started = cowait("run", "-d", "sleeper:sleepy", "-i", "children=1", "--cpu", "0.5", "--memory-limit", "256Mi",
                     cwd=project)
    run_id = started.stdout.strip()
    try:
        _wait_for_children(docker_client, 1, run_id=run_id)
        for container in run_containers(docker_client, run_id):
            host = container.attrs["HostConfig"]
            assert host["NanoCpus"] == 500_000_000
            assert host["Memory"] == 256 * 1024 * 1024
    finally:
        cowait("kill", run_id, cwd=project)


def test_render_compose_is_valid_and_runs(cowait, project, docker_client, tmp_path):
    rendered = cowait("render", "compose", "fanout:FanOut", "-i", "n=3", cwd=project)
    assert rendered.code == 0, rendered.output
    compose_file = tmp_path / "run.yml"
    compose_file.write_text(rendered.stdout)
    check = subprocess.run(["docker", "compose", "-f", str(compose_file), "config", "-q"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    name = [line.split(": ")[1] for line in rendered.stdout.splitlines() if line.startswith("name: ")][0]
    run_id = name.removeprefix("cowait-")
    try:
        up = subprocess.run(["docker", "compose", "-f", "-", "up"], input=rendered.stdout, capture_output=True,
                            text=True, timeout=300)
        assert up.returncode == 0, up.stderr
        logs = docker_client.containers.get(run_id).logs().decode()
        returned = [json.loads(line.split("\x1e@cowait ")[1]) for line in logs.split("\n")
                    if '"type":"return"' in line and f'"id":"{run_id}"' in line]
        assert returned[0]["result"] == 5
    finally:
        down = subprocess.run(["docker", "compose", "-p", name, "down", "--remove-orphans"], capture_output=True, text=True)
        assert down.returncode == 0, down.stderr
    assert run_containers(docker_client, run_id) == []


def test_compose_down_removes_subtasks_of_a_run(cowait, project, docker_client):
    started = cowait("run", "-d", "sleeper:sleepy", "-i", "children=2", cwd=project)
    run_id = started.stdout.strip()
    _wait_for_children(docker_client, 2, run_id=run_id)
    down = subprocess.run(["docker", "compose", "-p", f"cowait-{run_id}", "down", "--remove-orphans", "-t", "1"],
                          capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert run_containers(docker_client, run_id) == []


def _wait_for_children(docker_client, count: int, run_id: str | None = None, timeout: float = 60,
                       project=None) -> str:
    """Wait until a run (of ``project``, if given) has ``count`` running children; return its id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        labels = ["cowait.root=false"] + ([f"cowait.run={run_id}"] if run_id else [])
        labels += [f"cowait.project_dir={project}"] if project is not None else []
        filters = {"label": labels, "status": "running"}
        children = docker_client.containers.list(filters=filters)
        if len(children) >= count:
            return children[0].labels["cowait.run"]
        time.sleep(0.2)
    raise AssertionError(f"no run reached {count} running children in {timeout}s")


def test_network_per_task_gives_subtasks_their_own_namespace(cowait, project, docker_client):
    config = project / "cowait.yml"
    original = config.read_text()
    config.write_text(original + "  clusters:\n    isolated: {type: docker, network_per_task: true}\n")
    try:
        started = cowait("run", "-d", "-c", "isolated", "sleeper:sleepy", "-i", "children=1", cwd=project)
        assert started.code == 0, started.output
        run_id = started.stdout.strip()
        _wait_for_children(docker_client, 1, run_id=run_id)
        child = [c for c in run_containers(docker_client, run_id) if c.labels["cowait.root"] == "false"][0]
        assert child.attrs["HostConfig"]["NetworkMode"] == f"cowait-{run_id}"
        cowait("kill", run_id, cwd=project)
        shared = cowait("run", "-d", "sleeper:sleepy", "-i", "children=1", cwd=project).stdout.strip()
        _wait_for_children(docker_client, 1, run_id=shared)
        child = [c for c in run_containers(docker_client, shared) if c.labels["cowait.root"] == "false"][0]
        root = docker_client.containers.get(shared)
        assert child.attrs["HostConfig"]["NetworkMode"] == f"container:{root.id}"
    finally:
        config.write_text(original)
        cowait("kill", "--all", cwd=project)


def test_a_result_the_followed_stream_missed_is_read_again_once_the_subtask_stopped(docker_client):
    # The engine's follow can close as a container stops, before its last lines were passed on
    # (seen once in 1,000 subtasks). The parent then reads the stopped container's output again.
    from cowait.runtime.events import MARKER
    from cowait.runtime.node import Node
    from cowait.runtime.remote import RemoteTask
    from cowait.runtime.taskdef import TaskDefinition

    child = TaskDefinition(id=f"echo-{os.getpid()}-{time.time_ns() % 10**8}", name="echo", run="recover",
                           image="python:3.11-slim", parent="parent")
    lines = ["partial output", MARKER + json.dumps({"type": "return", "id": child.id, "result": 42}),
             MARKER + json.dumps({"type": "status", "id": child.id, "status": "done"})]
    container = docker_client.containers.run(child.image, ["python", "-c", f"print({chr(10).join(lines)!r})"],
                                             name=child.id, detach=True)
    try:
        container.wait()
        node = Node(TaskDefinition(id="parent", name="parent", run="recover", image=child.image))
        handle, outcome, seen = RemoteTask(child, {}), {}, []
        node.listeners.append(seen.append)
        node._recover_end(handle, outcome)  # what the watcher does when the stream ended early
        assert outcome["result"] == 42 and handle.status == "done"
        assert [e["type"] for e in seen] == ["return", "status"]  # from the end on: no line twice
    finally:
        container.remove(force=True)
