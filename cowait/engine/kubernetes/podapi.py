"""Pods as the API's JSON, over the official client's transport.

The engine reads, creates, watches and deletes pods through ``ApiClient``'s REST client (so the
kubeconfig or the in-cluster service account, TLS, proxies and token refresh stay the client's),
not through the generated ``CoreV1Api``. From kubernetes 35 on, loading that module defines 412
validated methods and about 250 pydantic models (0.3 s on two cores), and the first pod created or
read through it builds their validators: a parent pod paid both before its first subtask started,
a fifth of a 32-pod fan-out on a small cluster. Pods here are plain dicts with the API's camelCase
keys, the same shape as the manifests the engine renders.

Works with the clients from 28 on: their REST clients differ only in whether they read the body
themselves (``_preload_content``) and raise on an error status; both are handled here.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Iterator
from urllib.parse import quote, urlencode

from cowait.runtime.events import split_lines

CHUNK = 64 * 1024


class PodApi:
    """The pod requests of one namespace."""

    def __init__(self, api_client: Any, namespace: str) -> None:
        self.client = api_client
        self.namespace = namespace
        self._path = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods"
        request = api_client.rest_client.request
        # clients before 35 read the body unless told not to (and then return urllib3's response)
        self._unread = {"_preload_content": False} if "_preload_content" in inspect.signature(request).parameters \
            else {}

    # --- pods -----------------------------------------------------------------------------
    def read(self, name: str) -> dict[str, Any]:
        return self._json("GET", self._pod(name))

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", self._path, body=body)

    def delete(self, name: str, grace_period_seconds: int = 2) -> None:
        """Delete a pod; the garbage collector deletes what it owns in the background."""
        self._json("DELETE", self._pod(name), query={"gracePeriodSeconds": grace_period_seconds},
                   body={"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": grace_period_seconds,
                         "propagationPolicy": "Background"})

    def list(self, label_selector: str | None = None, field_selector: str | None = None) -> tuple[list[dict], str]:
        """(pods, the list's resourceVersion to watch from)."""
        found = self._json("GET", self._path, query={"labelSelector": label_selector, "fieldSelector": field_selector})
        return found.get("items") or [], (found.get("metadata") or {}).get("resourceVersion", "")

    def watch(self, resource_version: str, label_selector: str | None = None, field_selector: str | None = None,
              timeout_seconds: int = 300) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event type, pod) for each change after ``resource_version``, until the server ends the
        watch after ``timeout_seconds``. An ERROR event raises ``ApiException`` with its code (410:
        the version is too old; list again)."""
        response = self._request("GET", self._path, query={
            "watch": "true", "resourceVersion": resource_version, "labelSelector": label_selector,
            "fieldSelector": field_selector, "timeoutSeconds": timeout_seconds})
        try:
            for line in split_lines(response.stream(CHUNK)):
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise _error(status.get("code") or 500, status.get("reason") or "Error", json.dumps(status))
                yield event["type"], event["object"]
        finally:
            _done(response)

    def log(self, name: str, container: str) -> str:
        """The container's log so far."""
        response = self._request("GET", self._pod(name) + "/log", query={"container": container})
        try:
            return response.data.decode("utf-8", errors="replace")
        finally:
            response.release_conn()

    def follow_log(self, name: str, container: str) -> Iterator[str]:
        """Lines of the container's log, until it stops (the request is sent now: its errors raise here)."""
        response = self._request("GET", self._pod(name) + "/log", query={"container": container, "follow": "true"})

        def lines() -> Iterator[str]:
            try:
                yield from split_lines(response.stream(CHUNK))
            finally:
                _done(response)
        return lines()

    # --- transport ------------------------------------------------------------------------
    def _pod(self, name: str) -> str:
        return f"{self._path}/{quote(name, safe='')}"

    def _json(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        response = self._request(method, path, query, body)
        try:
            data = response.data
        finally:
            response.release_conn()
        return json.loads(data) if data else {}

    def _request(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        """urllib3's response, its body not read; ``ApiException`` on an error status (clients
        before 35 raise it themselves)."""
        configuration = self.client.configuration
        url = configuration.host + path
        query = {k: v for k, v in (query or {}).items() if v is not None}
        if query:
            url += "?" + urlencode(query)
        headers = {**self.client.default_headers, "Accept": "application/json", "User-Agent": self.client.user_agent}
        if body is not None:
            headers["Content-Type"] = "application/json"
        for auth in configuration.auth_settings().values():  # the bearer token, refreshed when it expires
            if auth.get("in") == "header" and auth.get("value"):
                headers[auth["key"]] = auth["value"]
        response = self.client.rest_client.request(method, url, headers=headers, body=body, **self._unread)
        raw = getattr(response, "response", response)  # clients from 35 on wrap urllib3's response
        if not 200 <= raw.status <= 299:
            try:
                text = raw.data.decode("utf-8", errors="replace")
            finally:
                raw.release_conn()
            raise _error(raw.status, raw.reason, text)
        return raw


def _done(response: Any) -> None:
    """Give a streamed response's connection back: read to its end, it is reused; left before, it is
    closed (the rest of the stream must not reach the next request)."""
    if not response.closed:
        response.close()
    response.release_conn()


def _error(status: int, reason: str, body: str) -> Exception:
    """The client's own ``ApiException``, so that callers handle both paths alike."""
    from kubernetes.client.exceptions import ApiException

    exc = ApiException(status=status, reason=reason)
    exc.body = body
    return exc
