"""What a built image can do, read from the labels ``cowait build`` puts on it."""

from __future__ import annotations

from cowait.errors import CowaitError

NOTEBOOK_LABEL = "cowait.feature.notebook"


def local_image_labels(ref: str) -> dict[str, str] | None:
    """Labels of ``ref`` (``repo:tag`` or ``repo@sha256:...``) in the local engine; None if absent there."""
    from docker.errors import ImageNotFound

    from cowait.engine.docker.client import docker_client

    try:
        return docker_client().images.get(ref).labels or {}
    except ImageNotFound:
        return None


def require_notebook_support(ref: str) -> None:
    """Refuse, before anything starts, an image built without notebook support.

    An image the local engine does not hold (a digest pushed from elsewhere) is not checked: the
    cluster pulls it, and a missing Jupyter then shows in the task's own failure.
    """
    labels = local_image_labels(ref)
    if labels is None or labels.get(NOTEBOOK_LABEL, "true") == "true":
        return
    raise CowaitError(f"image {ref} was built without notebook support",
                      hint="remove 'features: {notebook: false}' from cowait.yml, then 'cowait build' "
                           "(and '--push' for a cluster)")
