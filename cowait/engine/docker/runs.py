"""The run half of the Docker engine: what the CLI asks of the local engine (the built image by its
content tag, the root's mounts, network and environment, the launch through Compose or, for a test
session, testcontainers, the notebook's port on 127.0.0.1, the streamed file share)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from cowait.engine import labels as L
from cowait.errors import ConfigError, CowaitError, ImageNotAvailable

if TYPE_CHECKING:
    from cowait.config import Project
    from cowait.runtime.taskdef import TaskDefinition


def resolve_image(project: "Project", image: str | None, warnings: list[str] | None = None) -> str:
    """An immutable reference to the project's image (its content tag), or a clear error.

    Warns when the image's cowait runtime is not the one running here (rebuild needed).
    """
    from docker.errors import ImageNotFound

    from cowait.build.builder import split_image
    from cowait.engine.docker.client import docker_client

    repository, tag = split_image(image or project.image)
    ref = f"{repository}:{tag or 'latest'}"
    try:
        found = docker_client().images.get(ref)
    except ImageNotFound:
        raise ImageNotAvailable(f"image {ref} not found", hint="build it with 'cowait build', or add --build") from None
    labels = found.labels or {}
    if warnings is not None and image is None and "cowait.runtime" in labels:
        from cowait.build.wheel import runtime_key

        if labels["cowait.runtime"] != runtime_key():
            warnings.append(f"{ref} was built with another version of cowait; run 'cowait build' to update it")
    content = labels.get("cowait.content")
    if content and f"{repository}:{content}" in found.tags:
        return f"{repository}:{content}"
    return ref


def docker_volumes(project: "Project", warnings: list[str]) -> list[dict[str, Any]]:
    """``volumes:`` of cowait.yml as Docker mount specs (bind and tmpfs)."""
    mounts = []
    for target, spec in project.settings.volumes.items():
        if isinstance(spec, str):
            spec = {"bind": spec}
        if not isinstance(spec, dict):
            raise ConfigError(f"cowait.yml: volumes.{target}: expected a path or a mapping")
        if "bind" in spec:
            bind = spec["bind"]
            source = bind if isinstance(bind, str) else bind.get("src")
            mode = "rw" if isinstance(bind, str) else bind.get("mode", "rw")
            if not source:
                raise ConfigError(f"cowait.yml: volumes.{target}.bind: needs a source path")
            path = (project.root / os.path.expanduser(source)).resolve()
            mounts.append({"type": "bind", "source": str(path), "target": target, "read_only": mode == "ro"})
        elif "tmpfs" in spec:
            size = (spec["tmpfs"] or {}).get("size")
            mounts.append({"type": "tmpfs", "target": target, "size": _size_bytes(size) if size else None})
        else:
            warnings.append(f"volumes.{target}: {', '.join(spec)} volumes exist on Kubernetes only; ignored on Docker")
    return mounts


def _size_bytes(size: Any) -> int:
    """A tmpfs size: a quantity (64Mi), or Docker's spelling (64m), which exists only on Docker."""
    from cowait.quantity import DOCKER_UNITS, QuantityError, memory_bytes

    try:
        return memory_bytes(size)
    except QuantityError:
        text = str(size).strip()
        for unit in sorted(DOCKER_UNITS, key=len, reverse=True):
            number = text[: -len(unit)]
            if text.endswith(unit) and number.replace(".", "", 1).isdigit():
                return memory_bytes(number + DOCKER_UNITS[unit]) if DOCKER_UNITS[unit] else int(number)
        raise ConfigError(f"cowait.yml: volumes: tmpfs size '{text}' is not a size", hint="write e.g. 64Mi") from None


def docker_socket() -> str:
    """Host path of the Docker socket, to mount into task containers."""
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://"):]
    if host:
        raise CowaitError(f"DOCKER_HOST={host}: tasks need the engine's unix socket to start subtasks",
                          hint="use a local engine (unix socket)")
    return "/var/run/docker.sock"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DockerRuns:
    """Mixed into the Docker engine: its run half (see ``TaskEngine``)."""

    local = True
    options: dict[str, Any]

    def run_image(self, project: "Project", image: str | None, warnings: list[str]) -> str:
        """The local image by its content tag."""
        return resolve_image(project, image, warnings)

    def root_settings(self, project: "Project", options: Any, run_id: str,
                      warnings: list[str]) -> tuple[dict[str, str], list[dict[str, Any]], dict[str, Any]]:
        """The project folder bind-mounted (unless the run tests what the image holds), the
        ``volumes:`` of cowait.yml, a network of the run's own, the engine's socket for subtasks."""
        from cowait.runs.plan import resolve_environment
        from cowait.runtime.taskdef import PROJECT_MOUNT

        volumes = []
        if options.mount:
            volumes.append({"type": "bind", "source": str(project.root), "target": PROJECT_MOUNT})
        volumes.extend(docker_volumes(project, warnings))
        engine_options = {
            "network": f"cowait-{run_id}",
            "socket": docker_socket(),
            "compose_project": L.compose_project_name(run_id),
            "shared_network": not self.options.get("network_per_task", False),
        }
        return resolve_environment(project, options.env, warnings), volumes, engine_options

    def default_parallelism(self) -> int | None:
        """Twice the engine's CPUs: enough to keep them busy, not so many that a laptop thrashes."""
        try:
            cpus = int(self.client.info().get("NCPU") or 0)  # type: ignore[attr-defined]
        except CowaitError:  # the engine is down: what is rendered or planned still gets a bound
            cpus = 0
        return 2 * (cpus or os.cpu_count() or 1)

    def launch(self, root: "TaskDefinition", record_dir: Path, command: list[str] | None = None) -> None:
        """The root through its Compose project (kept in the record), or, with ``command``, a
        test container through testcontainers on the run's own network."""
        if command is not None:
            self._launch_command(root, command)
            return
        from cowait.engine.docker.compose import compose_up
        from cowait.render.compose import render_compose

        compose_file = record_dir / "compose.yml"
        compose_file.write_text(render_compose(root))
        compose_up(compose_file, root.engine_options["compose_project"], f"run {root.id}")

    def _launch_command(self, root: "TaskDefinition", command: list[str]) -> None:
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # every container is labelled and removed by us
        from docker.types import Mount
        from testcontainers.core.container import DockerContainer

        from cowait.engine.docker.tasks import _mount

        settings = self.settings(root)  # type: ignore[attr-defined]
        self.client.networks.create(root.engine_options["network"], driver="bridge",  # type: ignore[attr-defined]
                                    labels={L.RUN: root.run, L.PROJECT_DIR: root.project_dir or ""})
        container = (DockerContainer(root.image)
                     .with_name(root.id)
                     .with_command(command)
                     .with_kwargs(labels=settings.labels, network=settings.network, init=True,
                                  working_dir=root.workdir, mounts=[_mount(Mount, spec) for spec in settings.mounts],
                                  extra_hosts=settings.extra_hosts or None))
        for key, value in settings.env.items():
            container.with_env(key, value)
        container.start()

    def publish(self, root: "TaskDefinition", container_port: int, local_port: int | None = None) -> None:
        """Publish the port on 127.0.0.1 only (a free one unless given)."""
        root.engine_options.setdefault("ports", []).append(
            {"host_ip": "127.0.0.1", "host_port": local_port or free_port(), "container_port": container_port})

    def reach(self, root: "TaskDefinition", container_port: int,
              local_port: int | None = None) -> tuple[str, Callable[[], None]]:
        for port in root.engine_options.get("ports") or []:
            if port["container_port"] == container_port:
                return f"http://127.0.0.1:{port['host_port']}", lambda: None
        raise CowaitError(f"port {container_port} of {root.id} was not published")

    def file_share(self, project: "Project", root: "TaskDefinition", read_only: bool,
                   warn: Callable[[str], None]) -> Any:
        """A privileged sidecar mounts the folder with FUSE over ``docker exec``, fed by this process."""
        from cowait.fileshare.local import LocalShare

        return LocalShare(project.root, root.run, root.image, str(project.root), read_only=read_only,
                          exclude=project.settings.fileshare.exclude)

    def setup(self, print_only: bool = False) -> list[str]:
        """The local engine needs nothing set up."""
        return ["the local Docker engine needs no setup"]
