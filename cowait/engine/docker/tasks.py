"""Tasks as Docker containers: start, follow, wait, remove (with subtrees), list."""

from __future__ import annotations

import io
import tarfile
import threading
from dataclasses import dataclass
from typing import Any, Iterator

from cowait.engine import labels as L
from cowait.engine.docker.runs import DockerRuns
from cowait.engine.exits import describe_exit
from cowait.engine.info import TaskInfo
from cowait.quantity import cpu_cores, memory_bytes
from cowait.runtime.events import split_lines
from cowait.runtime.taskdef import ENV_LIMIT, TASK_ENV, TASK_FILE_ENV, TASK_FILE_PATH, TaskDefinition

RUNTIME_COMMAND = ["python", "-m", "cowait.runtime"]
SOCKET_IN_CONTAINER = "/var/run/docker.sock"


def cpu_to_nano(value: str | None) -> int | None:
    """CPUs as a Kubernetes quantity ('1.5', '500m') -> Docker nano CPUs."""
    if value in (None, ""):
        return None
    return int(cpu_cores(value) * 1e9)


def memory_to_docker(value: str | None) -> str | None:
    """Memory as a Kubernetes quantity ('512Mi', '1G') -> Docker bytes ('536870912b')."""
    if value in (None, ""):
        return None
    return f"{memory_bytes(value)}b"


@dataclass
class ContainerSettings:
    """A task container's settings in engine-neutral terms."""

    env: dict[str, str]
    labels: dict[str, str]
    mounts: list[dict[str, Any]]
    network: str | None
    nano_cpus: int | None
    cpu_shares: int | None
    mem_limit: str | None
    mem_reservation: str | None
    definition_file: str | None
    extra_hosts: dict[str, str]


class DockerTaskEngine(DockerRuns):
    """The Docker engine as the runtime and the CLI use it."""

    name = "docker"

    @classmethod
    def from_cluster(cls, cluster: Any) -> "DockerTaskEngine":
        """The engine of a ``type: docker`` cluster of cowait.yml."""
        return cls({"network_per_task": bool(getattr(cluster, "network_per_task", False))})

    def __init__(self, options: dict[str, Any] | None = None, client: Any = None) -> None:
        self.options = dict(options or {})
        self._client = client
        self._client_lock = threading.Lock()

    @property
    def client(self):
        with self._client_lock:  # the first spawns of a fan-out ask at once: one client, imported once
            if self._client is None:
                from cowait.engine.docker.client import docker_client

                self._client = docker_client()
        return self._client

    @property
    def api(self):
        return self.client.api

    # --- start ----------------------------------------------------------------------------
    def settings(self, taskdef: TaskDefinition) -> ContainerSettings:
        """Engine-neutral settings of the container of ``taskdef`` (used by the API and by Compose)."""
        options = taskdef.engine_options
        definition = taskdef.to_json()
        env = dict(taskdef.env)
        in_file = len(definition) > ENV_LIMIT
        if in_file:
            env[TASK_FILE_ENV] = TASK_FILE_PATH
        else:
            env[TASK_ENV] = definition
        mounts = [dict(spec) for spec in taskdef.volumes]
        if options.get("socket"):
            mounts.append({"type": "bind", "source": options["socket"], "target": SOCKET_IN_CONTAINER})
        labels = L.task_labels(taskdef)
        if options.get("compose_project"):
            labels.update({L.COMPOSE_PROJECT: options["compose_project"], L.COMPOSE_SERVICE: taskdef.id,
                           L.COMPOSE_ONEOFF: "False", L.COMPOSE_CONFIG_HASH: taskdef.id})
        network = options.get("network") or None
        if taskdef.parent is not None and options.get("shared_network", True):
            # Subtasks join the root's network namespace: no namespace to create per container,
            # which starts a fan-out about twice as fast. `network_per_task` turns this off.
            network = f"container:{taskdef.run}"
        return ContainerSettings(
            env=env, labels=labels, mounts=mounts, network=network,
            # a limit defaults to its request (as in the original, and as on clusters); the request
            # is also the container's share of the CPUs under contention
            nano_cpus=cpu_to_nano(taskdef.cpu_limit or taskdef.cpu),
            cpu_shares=int(cpu_cores(taskdef.cpu) * 1024) if taskdef.cpu else None,
            mem_limit=memory_to_docker(taskdef.memory_limit or taskdef.memory),
            mem_reservation=memory_to_docker(taskdef.memory) if taskdef.memory_limit else None,
            definition_file=definition if in_file else None,
            # the host, as Docker Desktop names it, on Linux too (not settable in a shared namespace)
            extra_hosts={} if (network or "").startswith("container:") else {"host.docker.internal": "host-gateway"},
        )

    def container_spec(self, taskdef: TaskDefinition) -> tuple[dict[str, Any], str | None]:
        """Arguments of the API's create call, and the definition file's content (if any)."""
        from docker.types import Mount

        settings = self.settings(taskdef)
        host_config = self.api.create_host_config(
            mounts=[_mount(Mount, spec) for spec in settings.mounts],
            network_mode=settings.network,
            nano_cpus=settings.nano_cpus,
            cpu_shares=settings.cpu_shares,
            mem_limit=settings.mem_limit,
            mem_reservation=settings.mem_reservation,
            extra_hosts=settings.extra_hosts or None,
            init=True,
        )
        spec = {
            "image": taskdef.image, "command": RUNTIME_COMMAND, "name": taskdef.id,
            "environment": settings.env, "labels": settings.labels, "working_dir": taskdef.workdir,
            "host_config": host_config,
        }
        return spec, settings.definition_file

    def start(self, taskdef: TaskDefinition) -> None:
        """Create and start the container of ``taskdef``."""
        spec, definition_file = self.container_spec(taskdef)
        container = self.api.create_container(**spec)
        if definition_file is not None:
            self.api.put_archive(container["Id"], "/", _tar_file(TASK_FILE_PATH, definition_file.encode()))
        self.api.start(container["Id"])

    def start_image(self, taskdef: TaskDefinition, command: list[str] | str | None, env: dict[str, str]) -> None:
        """Start a container of any image (not a cowait task) as a labelled subtask of its parent."""
        from docker.types import Mount

        settings = self.settings(taskdef)
        host_config = self.api.create_host_config(
            mounts=[_mount(Mount, spec) for spec in taskdef.volumes], network_mode=settings.network,
            nano_cpus=settings.nano_cpus, cpu_shares=settings.cpu_shares, mem_limit=settings.mem_limit,
            mem_reservation=settings.mem_reservation,
        )
        container = self.api.create_container(image=taskdef.image, command=command, name=taskdef.id,
                                              environment=env, labels=settings.labels, host_config=host_config)
        self.api.start(container["Id"])

    def ensure_image(self, image: str) -> None:
        """Pull ``image`` unless it is present."""
        from docker.errors import ImageNotFound

        try:
            self.api.inspect_image(image)
        except ImageNotFound:
            repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
            self.api.pull(repository, tag=tag or "latest")

    # --- watch ----------------------------------------------------------------------------
    def follow(self, task_id: str) -> Iterator[str]:
        """Lines of the task's stream, from its start until the container stops."""
        return split_lines(self.api.logs(task_id, stream=True, follow=True, stdout=True, stderr=True))

    def read(self, task_id: str) -> Iterator[str]:
        """Lines of the task's stream so far, without waiting."""
        return split_lines(iter([self.api.logs(task_id, stream=False, follow=False)]))

    def wait(self, task_id: str) -> tuple[int, str]:
        """(exit code, reason in words) once the container has stopped."""
        code = self.api.wait(task_id).get("StatusCode", -1)
        state = self.api.inspect_container(task_id).get("State", {})
        return code, describe_exit(code, bool(state.get("OOMKilled")))

    # --- cleanup --------------------------------------------------------------------------
    def remove(self, task_id: str, subtree: bool = True) -> None:
        """Remove the container of ``task_id`` (and every container below it, unless the task
        ended by itself: then it removed its own subtasks)."""
        if subtree:
            self.kill([task_id])
            return
        from docker.errors import NotFound

        try:
            self.api.remove_container(task_id, force=True)
        except NotFound:
            pass

    def kill(self, task_ids: list[str]) -> None:
        """Stop and remove tasks and their subtrees, children first."""
        from docker.errors import APIError, NotFound

        for task_id in task_ids:
            children = self.api.containers(all=True, filters={"label": f"{L.PARENT}={task_id}"})
            self.kill([c["Labels"][L.TASK] for c in children])
            try:
                self.api.remove_container(task_id, force=True)
            except NotFound:
                pass
            except APIError as exc:
                if "already in progress" not in str(exc):
                    raise

    def remove_run(self, run_id: str) -> None:
        """Remove every container of a run (tree order) and its network."""
        from docker.errors import APIError, NotFound

        containers = self.list(all=True, run=run_id)
        self.kill([c.id for c in containers if c.root] or [c.id for c in containers])
        self.kill([c.id for c in self.list(all=True, run=run_id)])  # stragglers started meanwhile
        try:
            for network in self.client.networks.list(filters={"label": f"{L.RUN}={run_id}"}):
                network.remove()
        except (NotFound, APIError):
            pass

    # --- listing (CLI) ----------------------------------------------------------------------
    def list(self, all: bool = True, run: str | None = None) -> list[TaskInfo]:
        """Every cowait task container (of one run, if given)."""
        label = f"{L.RUN}={run}" if run else L.TASK
        found = []
        for c in self.api.containers(all=all, filters={"label": label}):
            labels = c.get("Labels") or {}
            if L.TASK not in labels:
                continue
            found.append(TaskInfo(
                id=labels[L.TASK], name=labels.get(L.NAME, ""), run=labels.get(L.RUN, ""),
                parent=labels.get(L.PARENT, ""), root=labels.get(L.ROOT) == "true", status=_status(c),
                exit_code=_exit_code(c), created=float(c["Created"]) if c.get("Created") else None,
                project_dir=labels.get(L.PROJECT_DIR, ""), engine="docker",
            ))
        return found


def _exit_code(container: dict[str, Any]) -> int | None:
    """The exit code in a listing's status text ('Exited (3) 2 seconds ago')."""
    status = container.get("Status", "")
    if container.get("State") != "exited" or "(" not in status:
        return None
    try:
        return int(status.split("(")[1].split(")")[0])
    except ValueError:
        return None


def _status(container: dict[str, Any]) -> str:
    state = container.get("State", "")
    if state == "running":
        return "running"
    if state in ("created", "restarting"):
        return "pending"
    return "done" if _exit_code(container) == 0 else "fail"


def _mount(Mount: Any, spec: dict[str, Any]) -> Any:
    kind = spec.get("type", "bind")
    if kind == "tmpfs":
        return Mount(target=spec["target"], source=None, type="tmpfs", tmpfs_size=spec.get("size"))
    return Mount(target=spec["target"], source=spec["source"], type=kind, read_only=bool(spec.get("read_only")),
                 propagation=spec.get("propagation"))


def _tar_file(path: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            folder = tarfile.TarInfo("/".join(parts[:depth]))
            folder.type = tarfile.DIRTYPE
            folder.mode = 0o755
            archive.addfile(folder)
        info = tarfile.TarInfo(path.lstrip("/"))
        info.size = len(content)
        info.mode = 0o644
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()
