"""Push task images to their registry and report the digest."""

from __future__ import annotations

from typing import Callable

from cowait.build.builder import split_image
from cowait.errors import PushError

# Layer progress callback: (layer id, status, current bytes, total bytes).
LayerProgress = Callable[[str, str, int, int], None]


def check_pushable(repository: str) -> None:
    """A pushable name has a registry or a user part (``registry/name`` or ``user/name``)."""
    if "/" not in repository:
        raise PushError(
            f"image '{repository}' has no registry or user part, so it cannot be pushed",
            hint="set 'image:' in cowait.yml to e.g. registry.example.com/team/" + repository,
        )


def push_image(refs: list[str], on_layer: LayerProgress) -> str:
    """Push every ``repo:tag`` in ``refs``; return ``repo@sha256:...`` of the last one."""
    from cowait.engine.docker.client import docker_client

    client = docker_client()
    digest = None
    repository = None
    for ref in refs:
        repository, tag = split_image(ref)
        check_pushable(repository)
        for chunk in client.api.push(repository, tag=tag or "latest", stream=True, decode=True):
            if "error" in chunk or "errorDetail" in chunk:
                message = chunk.get("errorDetail", {}).get("message") or chunk.get("error")
                raise PushError(f"push of {ref} failed: {message}",
                                hint="check 'docker login' for that registry and that it is reachable")
            if chunk.get("aux", {}).get("Digest"):
                digest = chunk["aux"]["Digest"]
            elif "id" in chunk and "status" in chunk:
                detail = chunk.get("progressDetail") or {}
                on_layer(chunk["id"], chunk["status"], int(detail.get("current") or 0), int(detail.get("total") or 0))
    if digest is None or repository is None:
        raise PushError("the registry did not report a digest", hint="run again with --debug")
    return f"{repository}@{digest}"
