"""A local port forwarded to a pod's port through the API server (what `kubectl port-forward`
does), held by the CLI: no inbound route into the cluster is needed."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

log = logging.getLogger("cowait.portforward")


class PortForward:
    """Listens on 127.0.0.1:<local_port>; each connection gets its own port-forward stream.

    ``new_api`` makes a CoreV1Api per connection (the client's stream helpers patch the ApiClient
    they run on, so it must not be shared with other threads).
    """

    def __init__(self, new_api: Any, namespace: str, pod: str, remote_port: int, local_port: int = 0) -> None:
        self.new_api = new_api
        self.namespace = namespace
        self.pod = pod
        self.remote_port = remote_port
        self.listener = socket.create_server(("127.0.0.1", local_port))
        self.local_port = self.listener.getsockname()[1]
        self._closed = threading.Event()

    def __enter__(self) -> "PortForward":
        threading.Thread(target=self._accept, name="port-forward", daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        try:
            self.listener.close()
        except OSError:
            pass

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        from kubernetes.stream import portforward

        try:
            forward = portforward(self.new_api().connect_get_namespaced_pod_portforward, self.pod, self.namespace,
                                  ports=str(self.remote_port))
            remote = forward.socket(self.remote_port)
        except Exception:  # noqa: BLE001 - the pod is gone or not ready: drop this connection
            log.debug("port-forward to pod %s failed", self.pod, exc_info=True)
            client.close()
            return
        done = threading.Event()

        def pipe(source: Any, target: Any) -> None:
            try:
                while not done.is_set():
                    data = source.recv(65536)
                    if not data:
                        break
                    target.sendall(data)
            except OSError:
                pass
            finally:
                done.set()

        upstream = threading.Thread(target=pipe, args=(client, remote), daemon=True)
        upstream.start()
        pipe(remote, client)
        upstream.join(1)
        for end in (client, remote):
            try:
                end.close()
            except OSError:
                pass
