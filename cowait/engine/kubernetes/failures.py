"""Pod states translated into errors a person can act on."""

from __future__ import annotations

from typing import Any

from cowait.engine.exits import describe_exit

IMAGE_PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
CONFIG_REASONS = {"CreateContainerConfigError", "CreateContainerError"}


TASK_CONTAINER = "task"


def container_status(pod: Any) -> Any:
    """The status of the task's container (the kubelet sorts statuses by name: a sidecar may come first)."""
    statuses = (pod.status.container_statuses or []) if pod.status else []
    return next((s for s in statuses if s.name == TASK_CONTAINER), statuses[0] if statuses else None)


def startup_failure(pod: Any) -> str | None:
    """Why a pod cannot start (image pull, scheduling, config), or None while it may still start."""
    status = pod.status
    if status is None:
        return None
    for condition in status.conditions or []:
        if condition.type == "PodScheduled" and condition.status == "False" and condition.reason == "Unschedulable":
            return f"pod {pod.metadata.name} cannot be scheduled: {condition.message}"
    state = container_status(pod)
    waiting = state.state.waiting if state and state.state else None
    if waiting is not None and waiting.reason in IMAGE_PULL_REASONS:
        image = pod.spec.containers[0].image
        secrets = [s.name for s in (pod.spec.image_pull_secrets or [])]
        hint = (f"check that it was pushed and that pull secret(s) {', '.join(secrets)} can read it" if secrets
                else "check that it was pushed ('cowait build --push'); a private registry needs "
                     "'pull_secrets' on the cluster")
        return f"image {image} cannot be pulled ({waiting.reason}: {waiting.message or 'no detail'}); {hint}"
    if waiting is not None and waiting.reason in CONFIG_REASONS:
        return f"pod {pod.metadata.name} cannot start its container ({waiting.reason}): {waiting.message}"
    return None


def exit_reason(pod: Any) -> tuple[int, str]:
    """(exit code, reason in words) of a finished pod."""
    status = pod.status
    if status is not None and status.reason == "Evicted":
        return 137, f"was evicted ({status.message or 'node pressure'})"
    if status is not None and status.reason == "DeadlineExceeded":
        return 137, "ran past its active deadline"
    state = container_status(pod)
    terminated = state.state.terminated if state and state.state else None
    if terminated is None:
        return -1, f"ended in phase {status.phase if status else 'unknown'}"
    return terminated.exit_code, describe_exit(terminated.exit_code, terminated.reason == "OOMKilled")


def is_started(pod: Any) -> bool:
    state = container_status(pod)
    return bool(state and state.state and (state.state.running or state.state.terminated))


def is_finished(pod: Any) -> bool:
    """The pod ended, or its task container did (a file-share sidecar may still run)."""
    if pod.status and pod.status.phase in ("Succeeded", "Failed"):
        return True
    state = container_status(pod)
    return bool(state and state.state and state.state.terminated)
