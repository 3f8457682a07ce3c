"""A small driver of a real Jupyter server for tests: REST for kernels and contents, the kernel
websocket (Jupyter messaging protocol v5) to execute code and collect its outputs."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
import websocket


@dataclass
class Execution:
    status: str
    stdout: str = ""
    outputs: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        """Everything the cell printed or displayed as text."""
        parts = [self.stdout]
        for output in self.outputs:
            data = output.get("data") or {}
            if "text/plain" in data:
                parts.append(data["text/plain"])
        return "\n".join(parts)


class JupyterServer:
    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url.rstrip("/")
        self.token = token
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"

    def start_kernel(self, name: str = "cowait") -> "Kernel":
        response = self.http.post(f"{self.base}/api/kernels", json={"name": name})
        response.raise_for_status()
        return Kernel(self, response.json()["id"])

    def kernelspecs(self) -> dict[str, Any]:
        return self.http.get(f"{self.base}/api/kernelspecs").json()

    def save_notebook(self, path: str, cells: list[str]) -> None:
        import nbformat

        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        body = {"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(notebook))}
        self.http.put(f"{self.base}/api/contents/{path}", json=body).raise_for_status()


class Kernel:
    def __init__(self, server: JupyterServer, kernel_id: str) -> None:
        self.server = server
        self.id = kernel_id
        ws_url = server.base.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels?token={server.token}"
        self.ws = websocket.create_connection(ws_url, timeout=300)
        self.session = uuid.uuid4().hex

    def execute(self, code: str, timeout: float = 300) -> Execution:
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "test", "session": self.session, "msg_type": "execute_request",
                       "version": "5.3", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        result = Execution(status="")
        idle = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not (idle and result.status):
            message = json.loads(self.ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["msg_type"]
            content = message["content"]
            if kind == "stream":
                result.stdout += content["text"]
            elif kind in ("display_data", "execute_result"):
                result.outputs.append(content)
            elif kind == "error":
                result.error = content
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
            elif kind == "execute_reply":
                result.status = content["status"]
                if content["status"] == "error" and result.error is None:  # also named in the reply
                    result.error = {key: content.get(key) for key in ("ename", "evalue", "traceback")}
        return result

    def shutdown(self) -> None:
        try:
            self.ws.close()
        finally:
            self.server.http.delete(f"{self.server.base}/api/kernels/{self.id}")
