"""HTTP contract of the engine's pod requests (``podapi``) against a plain HTTP server that answers
as the API server does: watch streams cut at arbitrary bytes, an expired watch (ERROR 410), logs,
error statuses, and the bearer token on every request."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from cowait.engine.kubernetes.podapi import PodApi

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "job-1", "uid": "u-1", "resourceVersion": "7"}}


class Api(BaseHTTPRequestHandler):
    """Answers from ``self.server.routes``: (method, path) -> (status, body bytes, chunk size)."""

    def _answer(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        self.server.seen.append({"method": self.command, "path": url.path, "query": parse_qs(url.query),
                                 "auth": self.headers.get("Authorization"),
                                 "body": json.loads(self.rfile.read(length)) if length else None})
        status, body, chunk = self.server.routes.get((self.command, url.path), (404, b'{"kind":"Status","code":404}', 0))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(body), chunk or len(body) or 1):
            piece = body[start:start + (chunk or len(body))]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    httpd.routes, httpd.seen = {}, []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


@pytest.fixture
def pods(server) -> PodApi:
    configuration = client.Configuration()
    configuration.host = f"http://127.0.0.1:{server.server_port}"
    configuration.api_key = {"authorization": "secret-token"}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    return PodApi(client.ApiClient(configuration), "jobs")


def test_a_watch_cut_at_arbitrary_bytes_yields_whole_events(server, pods):
    events = [{"type": "ADDED", "object": {**POD, "metadata": {**POD["metadata"], "resourceVersion": str(v)}}}
              for v in range(8, 12)]
    server.routes["GET", "/api/v1/namespaces/jobs/pods"] = (
        200, b"".join(json.dumps(e).encode() + b"\n" for e in events), 13)
    seen = list(pods.watch("7", label_selector="cowait.parent=p-1", timeout_seconds=30))
    assert [(kind, pod["metadata"]["resourceVersion"]) for kind, pod in seen] == [("ADDED", str(v)) for v in range(8, 12)]
    [request] = server.seen
    assert request["query"] == {"watch": ["true"], "resourceVersion": ["7"], "labelSelector": ["cowait.parent=p-1"],
                                "timeoutSeconds": ["30"]}
    assert request["auth"] == "Bearer secret-token"


def test_an_expired_watch_raises_410_so_the_caller_lists_again(server, pods):
    server.routes["GET", "/api/v1/namespaces/jobs/pods"] = (200, json.dumps(
        {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired",
                                     "message": "too old resource version"}}).encode() + b"\n", 0)
    with pytest.raises(ApiException) as info:
        list(pods.watch("1"))
    assert info.value.status == 410 and "too old resource version" in info.value.body


def test_read_create_delete_and_errors(server, pods):
    server.routes["GET", "/api/v1/namespaces/jobs/pods/job-1"] = (200, json.dumps(POD).encode(), 0)
    server.routes["POST", "/api/v1/namespaces/jobs/pods"] = (201, json.dumps(POD).encode(), 0)
    server.routes["DELETE", "/api/v1/namespaces/jobs/pods/job-1"] = (200, json.dumps(POD).encode(), 0)
    assert pods.read("job-1")["metadata"]["uid"] == "u-1"
    assert pods.create(POD)["metadata"]["name"] == "job-1"
    pods.delete("job-1")
    with pytest.raises(ApiException) as info:
        pods.read("gone-1")
    assert info.value.status == 404
    post, delete = server.seen[1], server.seen[2]
    assert post["body"] == POD
    assert delete["body"]["propagationPolicy"] == "Background" and delete["query"]["gracePeriodSeconds"] == ["2"]
    assert {r["auth"] for r in server.seen} == {"Bearer secret-token"}


def test_logs_read_and_followed(server, pods):
    server.routes["GET", "/api/v1/namespaces/jobs/pods/job-1/log"] = (200, b"one\ntwo\nthree", 3)
    assert pods.log("job-1", "task") == "one\ntwo\nthree"
    assert list(pods.follow_log("job-1", "task")) == ["one", "two", "three"]
    assert server.seen[1]["query"] == {"container": ["task"], "follow": ["true"]}


def test_a_parent_starts_and_follows_subtasks_without_loading_corev1api(server):
    """The point of podapi: creating, listing and reading a subtask's pod loads none of the
    generated API modules beyond what ``import kubernetes`` loads (none from client 35 on: there
    CoreV1Api alone costs 0.3 s of a parent pod's first spawn). A fresh interpreter, as a pod is."""
    import subprocess
    import sys

    server.routes["POST", "/api/v1/namespaces/jobs/pods"] = (201, json.dumps(POD).encode(), 0)
    server.routes["GET", "/api/v1/namespaces/jobs/pods"] = (200, json.dumps({"items": [POD], "metadata": {
        "resourceVersion": "7"}}).encode(), 0)
    server.routes["GET", "/api/v1/namespaces/jobs/pods/job-1/log"] = (200, b"done\n", 0)
    script = f"""
import sys
from kubernetes import client
apis = lambda: sorted(m for m in sys.modules if m.startswith("kubernetes.client.api."))
before = apis()
from cowait.engine.kubernetes.tasks import KubernetesTaskEngine
from cowait.runtime.taskdef import TaskDefinition
configuration = client.Configuration()
configuration.host = "http://127.0.0.1:{server.server_port}"
engine = KubernetesTaskEngine({{"namespace": "jobs"}})
engine._client = client.ApiClient(configuration)
engine.start(TaskDefinition(id="job-1", name="mod:Job", run="job-1", image="reg.example/app@sha256:" + "a" * 64,
                            engine="kubernetes", engine_options={{"namespace": "jobs"}}))
assert [p["metadata"]["name"] for p in engine.pods()] == ["job-1"]
assert list(engine.read("job-1")) == ["done", ""]
print(sorted(set(apis()) - set(before)))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert [r["method"] for r in server.seen] == ["POST", "GET", "GET"]
