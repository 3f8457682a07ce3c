"""Pod states translated into errors a person can act on (pods as the API's JSON)."""

from __future__ import annotations

from typing import Any

from cowait.engine.exits import describe_exit

IMAGE_PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
CONFIG_REASONS = {"CreateContainerConfigError", "CreateContainerError"}


TASK_CONTAINER = "task"


def name(pod: dict[str, Any]) -> str:
    return (pod.get("metadata") or {}).get("name", "")


def container_status(pod: dict[str, Any]) -> dict[str, Any] | None:
    """The status of the task's container (the kubelet sorts statuses by name: a sidecar may come first)."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return next((s for s in statuses if s.get("name") == TASK_CONTAINER), statuses[0] if statuses else None)


def _state(pod: dict[str, Any]) -> dict[str, Any]:
    return (container_status(pod) or {}).get("state") or {}


def startup_failure(pod: dict[str, Any]) -> str | None:
    """Why a pod cannot start (image pull, scheduling, config), or None while it may still start."""
    status = pod.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False" \
                and condition.get("reason") == "Unschedulable":
            return f"pod {name(pod)} cannot be scheduled: {condition.get('message')}"
    waiting = _state(pod).get("waiting") or {}
    reason = waiting.get("reason")
    if reason in IMAGE_PULL_REASONS:
        spec = pod.get("spec") or {}
        image = (spec.get("containers") or [{}])[0].get("image")
        secrets = [s.get("name") for s in spec.get("imagePullSecrets") or []]
        hint = (f"check that it was pushed and that pull secret(s) {', '.join(secrets)} can read it" if secrets
                else "check that it was pushed ('cowait build --push'); a private registry needs "
                     "'pull_secrets' on the cluster")
        return f"image {image} cannot be pulled ({reason}: {waiting.get('message') or 'no detail'}); {hint}"
    if reason in CONFIG_REASONS:
        return f"pod {name(pod)} cannot start its container ({reason}): {waiting.get('message')}"
    return None


def exit_reason(pod: dict[str, Any]) -> tuple[int, str]:
    """(exit code, reason in words) of a finished pod."""
    status = pod.get("status") or {}
    if status.get("reason") == "Evicted":
        return 137, f"was evicted ({status.get('message') or 'node pressure'})"
    if status.get("reason") == "DeadlineExceeded":
        return 137, "ran past its active deadline"
    terminated = _state(pod).get("terminated")
    if terminated is None:
        return -1, f"ended in phase {status.get('phase') or 'unknown'}"
    code = terminated.get("exitCode", -1)
    return code, describe_exit(code, terminated.get("reason") == "OOMKilled")


def is_started(pod: dict[str, Any]) -> bool:
    state = _state(pod)
    return state.get("running") is not None or state.get("terminated") is not None


def is_finished(pod: dict[str, Any]) -> bool:
    """The pod ended, or its task container did (a file-share sidecar may still run)."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return True
    return _state(pod).get("terminated") is not None
