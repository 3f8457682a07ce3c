"""Tasks as Docker containers: start, follow, wait, remove (with subtrees), list."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from typing import Any, Iterator

from cowait.engine import labels as L
from cowait.engine.exits import describe_exit
from cowait.runtime.events import split_lines
from cowait.runtime.taskdef import ENV_LIMIT, TASK_ENV, TASK_FILE_ENV, TASK_FILE_PATH, TaskDefinition

RUNTIME_COMMAND = ["python", "-m", "cowait.runtime"]
SOCKET_IN_CONTAINER = "/var/run/docker.sock"


@dataclass
class TaskContainer:
    """What the engine knows about one task container."""

    id: str
    name: str
    run: str
    parent: str
    root: bool
    state: str  # created | running | exited | ...
    exit_code: int | None
    created: str
    project_dir: str
    container_id: str

    @property
    def status(self) -> str:
        if self.state in ("created", "running", "restarting"):
            return "running" if self.state == "running" else self.state
        if self.exit_code == 0:
            return "done"
        return "fail"


def cpu_to_nano(value: str | None) -> int | None:
    """'1.5' or '500m' CPUs -> Docker nano CPUs."""
    if value in (None, ""):
        return None
    text = str(value)
    cpus = float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    return int(cpus * 1e9)


def memory_to_docker(value: str | None) -> str | None:
    """Kubernetes-style '512Mi' / '1G' -> Docker '536870912b' / '1g'."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    units = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4,
             "K": 1000, "M": 1000 ** 2, "G": 1000 ** 3, "T": 1000 ** 4,
             "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
    for suffix in sorted(units, key=len, reverse=True):
        if text.endswith(suffix):
            return f"{int(float(text[: -len(suffix)]) * units[suffix])}b"
    return f"{int(float(text))}b"


@dataclass
class ContainerSettings:
    """A task container's settings in engine-neutral terms."""

    env: dict[str, str]
    labels: dict[str, str]
    mounts: list[dict[str, Any]]
    network: str | None
    nano_cpus: int | None
    mem_limit: str | None
    mem_reservation: str | None
    definition_file: str | None
    extra_hosts: dict[str, str]


class DockerTaskEngine:
    """The Docker engine as the runtime and the CLI use it."""

    def __init__(self, options: dict[str, Any] | None = None, client: Any = None) -> None:
        self._client = client

    @property
    def client(self):
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
            nano_cpus=cpu_to_nano(taskdef.cpu_limit or taskdef.cpu),
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
            nano_cpus=settings.nano_cpus, mem_limit=settings.mem_limit, mem_reservation=settings.mem_reservation,
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

    # --- listing (CLI) ----------------------------------------------------------------------
    def list(self, all: bool = True, run: str | None = None) -> list[TaskContainer]:
        """Every cowait task container (of one run, if given)."""
        label = f"{L.RUN}={run}" if run else L.TASK
        found = []
        for c in self.api.containers(all=all, filters={"label": label}):
            labels = c.get("Labels") or {}
            if L.TASK not in labels:
                continue
            state = c.get("State", "")
            exit_code = None
            if state == "exited":
                status = c.get("Status", "")
                if "(" in status:
                    try:
                        exit_code = int(status.split("(")[1].split(")")[0])
                    except ValueError:
                        exit_code = None
            found.append(TaskContainer(
                id=labels[L.TASK], name=labels.get(L.NAME, ""), run=labels.get(L.RUN, ""),
                parent=labels.get(L.PARENT, ""), root=labels.get(L.ROOT) == "true", state=state,
                exit_code=exit_code, created=str(c.get("Created", "")), project_dir=labels.get(L.PROJECT_DIR, ""),
                container_id=c["Id"],
            ))
        return found


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
