"""Docker engine settings that need no engine: resources, labels, definition delivery, Compose rendering."""

from __future__ import annotations

import pytest
import yaml

from cowait.engine.docker.tasks import DockerTaskEngine, cpu_to_nano, memory_to_docker
from cowait.quantity import QuantityError
from cowait.render.compose import render_compose
from cowait.runtime.taskdef import TASK_ENV, TASK_FILE_ENV, TaskDefinition


def make(**kw) -> TaskDefinition:
    base = dict(id="job-1", name="job", run="job-1", image="img:abc", inputs={"x": 1},
                env={"A": "$HOME and $$"}, volumes=[{"type": "bind", "source": "/src", "target": "/var/task"}],
                engine_options={"network": "cowait-job-1", "socket": "/var/run/docker.sock",
                                "compose_project": "cowait-job-1"}, project_dir="/src")
    base.update(kw)
    return TaskDefinition(**base)


def test_resource_conversions():
    assert cpu_to_nano("1.5") == 1_500_000_000 and cpu_to_nano("500m") == 500_000_000 and cpu_to_nano(None) is None
    assert memory_to_docker("512Mi") == f"{512 * 1024 ** 2}b"
    assert memory_to_docker("1G") == f"{10 ** 9}b"
    with pytest.raises(QuantityError, match="write 256Mi"):
        memory_to_docker("256m")


def test_settings_label_and_mount_the_task():
    settings = DockerTaskEngine().settings(make(cpu="2", memory="1Gi", memory_limit="2Gi"))
    assert settings.labels["cowait.run"] == "job-1" and settings.labels["cowait.root"] == "true"
    assert settings.labels["com.docker.compose.project"] == "cowait-job-1"
    assert settings.labels["com.docker.compose.config-hash"]
    assert {"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock"} in settings.mounts
    assert settings.nano_cpus == 2_000_000_000 and settings.cpu_shares == 2048
    assert settings.mem_limit == f"{2 * 1024 ** 3}b" and settings.mem_reservation == f"{1024 ** 3}b"
    assert TASK_ENV in settings.env and settings.definition_file is None


def test_large_definitions_travel_as_a_file():
    settings = DockerTaskEngine().settings(make(inputs={"data": "x" * 200_000}))
    assert TASK_ENV not in settings.env and settings.env[TASK_FILE_ENV] == "/cowait/task.json"
    assert TaskDefinition.from_json(settings.definition_file).inputs["data"] == "x" * 200_000


def test_compose_rendering_escapes_dollars_and_carries_everything():
    text = render_compose(make())
    data = yaml.safe_load(text)
    assert data["name"] == "cowait-job-1"
    service = data["services"]["job-1"]
    assert service["environment"]["A"] == "$$HOME and $$$$"  # Compose reads $$ as a literal $
    assert service["labels"]["cowait.task"] == "job-1"
    assert not any(key.startswith("com.docker.compose.") for key in service["labels"])
    assert data["networks"]["default"]["name"] == "cowait-job-1"
    big = yaml.safe_load(render_compose(make(inputs={"data": "y" * 100_000})))
    assert big["services"]["job-1"]["configs"] == [{"source": "task", "target": "/cowait/task.json"}]
    assert TaskDefinition.from_json(big["configs"]["task"]["content"].replace("$$", "$")).inputs["data"] == "y" * 100_000


def test_both_engines_implement_the_one_interface():
    from cowait.engine.interface import TaskEngine
    from cowait.engine.kubernetes.tasks import KubernetesTaskEngine

    members = [name for name in vars(TaskEngine) if not name.startswith("_")] + ["name"]
    for engine in (DockerTaskEngine(), KubernetesTaskEngine({"namespace": "jobs"})):
        assert isinstance(engine, TaskEngine)
        assert all(callable(getattr(engine, m)) for m in members if m != "name"), type(engine).__name__
    assert (DockerTaskEngine.name, KubernetesTaskEngine.name) == ("docker", "kubernetes")
