"""The cowait.yml schema: pydantic models, compatible with the original Cowait format."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from cowait.quantity import cpu_cores, memory_bytes

DEFAULT_BASE = "python:3.11-slim"


class _Model(BaseModel):
    # Unknown keys are kept so the loader can warn about them (with a suggestion), not fail.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class EnvSource(_Model):
    """An environment value read from a Kubernetes secret or config map (``valueFrom``)."""

    source: Literal["secret", "configmap"]
    name: str
    key: str
    fallback: str | None = Field(None, description="Value used on Docker, where no secret store exists.")


EnvValue = Union[str, EnvSource]


class Features(_Model):
    """Optional image features."""

    notebook: bool = Field(True, description="Install Jupyter, the Cowait kernel and sshfs (the file share's other client) in the "
                                          "image (false leaves them out: smaller image, no notebooks).")


class BuildSettings(_Model):
    """Settings of ``cowait build`` that are not image layout."""

    ca_bundle: str | None = Field(
        None, description="CA bundle passed into the build so pip trusts a TLS-intercepting proxy."
    )


class FileshareSettings(_Model):
    """The live file share of remote notebooks."""

    exclude: list[str] = Field(default_factory=list, description="Patterns hidden from remote pods.")
    enabled: bool = True


class Resources(_Model):
    """CPU and memory requests and limits (Kubernetes-style quantities)."""

    cpu: str | None = None
    cpu_limit: str | None = None
    memory: str | None = None
    memory_limit: str | None = None
    parallelism: int | None = Field(
        None, ge=0, description="Most subtasks of a run that run at once, over its whole tree; the rest wait in "
                                "a queue (0: no bound; default: twice the CPUs locally, no bound on clusters).")

    @field_validator("cpu", "cpu_limit", "memory", "memory_limit", mode="before")
    @classmethod
    def _number_to_str(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @field_validator("cpu", "cpu_limit")
    @classmethod
    def _cpu_quantity(cls, value: str | None) -> str | None:
        if value is not None:
            cpu_cores(value)  # the same meaning on Docker and on clusters, or a QuantityError
        return value

    @field_validator("memory", "memory_limit")
    @classmethod
    def _memory_quantity(cls, value: str | None) -> str | None:
        if value is not None:
            memory_bytes(value)
        return value


class DockerCluster(Resources):
    """The local Docker engine."""

    type: Literal["docker"] = "docker"
    network: str | None = Field(None, description="Original Cowait key; each run gets a network of its own.")
    network_per_task: bool = Field(
        False, description="Give every subtask its own network namespace on the run's network (for tasks that "
                           "serve on ports); by default subtasks share the root's, which starts them faster.")
    router: str | None = Field(None, description="Original Cowait key; accepted and ignored.")


class Traefik2Settings(_Model):
    middlewares: list[str] = Field(default_factory=list)
    entrypoints: list[str] = Field(default_factory=lambda: ["web", "websecure"])
    certresolver: str | None = None


class KubernetesCluster(Resources):
    """A Kubernetes cluster reached through a kubeconfig (or in-cluster config)."""

    type: Literal["kubernetes"]
    context: str | None = None
    kube_config_file: str | None = None
    namespace: str = "default"
    service_account: str = Field("cowait", description="Service account of task pods ('cowait cluster setup' creates it).")
    pull_secrets: list[str] = Field(default_factory=list)
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    affinity: str | dict[str, Any] | list[dict[str, Any]] | None = None
    domain: str | None = None
    router: Literal["port-forward", "ingress", "traefik2", "none"] = "port-forward"
    traefik2: Traefik2Settings = Field(default_factory=Traefik2Settings)
    clientfs: dict[str, Any] | None = Field(None, description="Original Cowait key; replaced by the file share.")
    timeout: int | None = Field(None, description="Original Cowait key; accepted and ignored.")


class ApiCluster(_Model):
    """The original Cowait's agent API provider; accepted in config, not supported."""

    type: Literal["api"]
    url: str | None = None
    token: str | None = None
    ws_url: str | None = None


class EngineCluster(_Model):
    """A cluster of a third engine, installed as a ``cowait.engines`` entry point: its own keys
    are the engine's to read (``from_cluster``), as attributes."""

    type: str

    @field_validator("type")
    @classmethod
    def _installed(cls, value: str) -> str:
        from cowait.engine.registry import installed_engines

        known = installed_engines()
        if value not in known:
            raise ValueError(f"unknown cluster type '{value}': use one of {', '.join(sorted({*known, 'api'}))} "
                             "(a third engine is installed as a 'cowait.engines' entry point)")
        return value


_BUILTIN_TYPES = {"docker": "DockerCluster", "kubernetes": "KubernetesCluster", "api": "ApiCluster"}


def _cluster_kind(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if kind is None:
        return None
    return _BUILTIN_TYPES.get(kind, "EngineCluster")


Cluster = Annotated[
    Union[Annotated[DockerCluster, Tag("DockerCluster")], Annotated[KubernetesCluster, Tag("KubernetesCluster")],
          Annotated[ApiCluster, Tag("ApiCluster")], Annotated[EngineCluster, Tag("EngineCluster")]],
    Discriminator(_cluster_kind),
]


class CowaitSettings(Resources):
    """Everything under the ``cowait:`` key of cowait.yml."""

    image: str | None = Field(None, description="Image name; defaults to the project folder's name.")
    base: str = Field(DEFAULT_BASE, description="Base image of the task image (FROM).")
    workdir: str = Field(".", description="Subfolder holding requirements.txt and .env; the task's working directory.")
    environment: dict[str, EnvValue] = Field(default_factory=dict)
    volumes: dict[str, Any] = Field(default_factory=dict)
    features: Features = Field(default_factory=Features)
    clusters: dict[str, Cluster] = Field(default_factory=dict)
    default_cluster: str = "docker"
    affinity: str | dict[str, Any] | list[dict[str, Any]] | None = None
    upstream: str | None = Field(None, description="Original Cowait key; accepted and ignored.")
    # Keys new in this version
    dockerfile: str | None = Field(None, description="A custom Dockerfile built first; the task image builds on it.")
    requirements: str = Field("requirements.txt", description="Requirements file, relative to workdir.")
    build_args: dict[str, str] = Field(default_factory=dict)
    ignore: list[str] = Field(default_factory=list, description="Extra .dockerignore patterns.")
    build: BuildSettings = Field(default_factory=BuildSettings)
    fileshare: FileshareSettings = Field(default_factory=FileshareSettings)

    @field_validator("environment", mode="before")
    @classmethod
    def _env_scalars_to_str(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: ("" if v is None else str(v).lower() if isinstance(v, bool) else str(v))
                if not isinstance(v, dict)
                else v
                for k, v in value.items()
            }
        return value

    @field_validator("build_args", mode="before")
    @classmethod
    def _args_to_str(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: str(v) for k, v in value.items()}
        return value


class CowaitFile(_Model):
    """A whole cowait.yml file."""

    version: Literal[1] = 1
    cowait: CowaitSettings = Field(default_factory=CowaitSettings)

