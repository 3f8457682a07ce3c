"""Connect to the Docker engine, with errors that say what to do."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from cowait.errors import DockerNotRunning

if TYPE_CHECKING:
    import docker

# The SDK's HTTP pool must be larger than the number of threads sharing one client:
# a fan-out of 32 subtasks crashes inside urllib3 with the default pool.
MAX_POOL_SIZE = 64
# Once the engine answered a ping, a slow answer is a busy engine, not a dead one: hundreds of
# container starts at once keep a small machine's engine answering for minutes (the SDK's 60 s
# read timeout failed subtasks of a 512-wide fan-out that would have started).
BUSY_ENGINE_TIMEOUT = 600


@lru_cache(maxsize=1)
def docker_client() -> "docker.DockerClient":
    """A Docker SDK client for the engine in the environment (DOCKER_HOST or the local socket)."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(max_pool_size=MAX_POOL_SIZE)
        client.ping()
        client.api.timeout = BUSY_ENGINE_TIMEOUT
    except DockerException as exc:
        raise DockerNotRunning(
            "Docker is not running or cannot be reached",
            hint="start Docker Desktop or 'sudo systemctl start docker', or set DOCKER_HOST",
        ) from exc
    return client
