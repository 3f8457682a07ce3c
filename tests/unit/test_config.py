"""cowait.yml: every key, the original format, merge rules and each error message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cowait.config import load_project
from cowait.config.schema import DockerCluster, EnvSource, KubernetesCluster
from cowait.errors import ConfigError

LAB_CONFIG = """
version: 1
cowait:
  image: '<your dockerhub username>/cowait-notebook-eval'
  features:
    notebook: true
  clusters:
    demo:
      type: kubernetes
      domain: demo.cowait.io
      router: traefik2
      traefik2:
        certresolver: default
      clientfs:
        host: fs.demo.cowait.io:9091
"""


@pytest.fixture(autouse=True)
def _home(isolated_home):
    return isolated_home


def write(folder: Path, text: str, name: str = "cowait.yml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text.lstrip("\n"))
    return path


def test_lab_config_in_original_format_loads_without_warnings(tmp_path):
    write(tmp_path, LAB_CONFIG)
    project = load_project(tmp_path)
    assert project.warnings == []
    assert project.image == "<your dockerhub username>/cowait-notebook-eval"
    assert project.settings.features.notebook is True
    demo = project.settings.clusters["demo"]
    assert isinstance(demo, KubernetesCluster)
    assert demo.domain == "demo.cowait.io" and demo.router == "traefik2"
    assert demo.traefik2.certresolver == "default"


def test_every_original_key(tmp_path):
    write(tmp_path, """
version: 1
cowait:
  image: registry.example.com/team/app
  base: python:3.11
  workdir: src
  environment:
    PLAIN: value
    NUMBER: 5
    FLAG: true
    SECRET: {source: secret, name: creds, key: password}
    CONFIG: {source: configmap, name: settings, key: mode}
  volumes:
    /data:
      bind: /tmp/data
    /cache:
      tmpfs: {size: 64m}
  features: {notebook: true}
  clusters:
    local: {type: docker, network: mynet}
    prod: {type: kubernetes, context: prod, namespace: jobs, pull_secrets: [regcred]}
  default_cluster: local
  cpu: 1
  cpu_limit: 2
  memory: 512Mi
  memory_limit: 1G
  affinity: spread
  upstream: ws://agent/ws
""")
    project = load_project(tmp_path)
    s = project.settings
    assert project.warnings == []
    assert s.base == "python:3.11" and s.workdir == "src"
    assert project.workdir == (tmp_path / "src").resolve()
    assert s.environment["PLAIN"] == "value"
    assert s.environment["NUMBER"] == "5"
    assert s.environment["FLAG"] == "true"
    assert s.environment["SECRET"] == EnvSource(source="secret", name="creds", key="password")
    assert s.environment["CONFIG"].source == "configmap"
    assert s.volumes["/data"] == {"bind": "/tmp/data"}
    assert isinstance(s.clusters["local"], DockerCluster) and s.clusters["local"].network == "mynet"
    assert s.clusters["prod"].pull_secrets == ["regcred"]
    assert project.cluster()[0] == "local"
    assert (s.cpu, s.cpu_limit, s.memory, s.memory_limit) == ("1", "2", "512Mi", "1G")
    assert s.affinity == "spread"


def test_new_keys(tmp_path):
    write(tmp_path, """
version: 1
cowait:
  dockerfile: Dockerfile.custom
  requirements: reqs/prod.txt
  build_args: {PIP_INDEX: http://mirror, LEVEL: 3}
  ignore: [data/, "*.csv"]
  build: {ca_bundle: certs/ca.pem}
""")
    s = load_project(tmp_path).settings
    assert s.dockerfile == "Dockerfile.custom"
    assert s.requirements == "reqs/prod.txt"
    assert s.build_args == {"PIP_INDEX": "http://mirror", "LEVEL": "3"}
    assert s.ignore == ["data/", "*.csv"]
    assert s.build.ca_bundle == "certs/ca.pem"


def test_defaults_without_any_file(tmp_path):
    folder = tmp_path / "My Project"
    folder.mkdir()
    project = load_project(folder)
    assert project.file is None
    assert project.root == folder.resolve()
    assert project.image == "my-project"
    assert project.settings.base == "python:3.11-slim"
    assert project.cluster() == ("docker", DockerCluster())


def test_discovery_walks_up_from_a_subfolder(tmp_path):
    write(tmp_path, "version: 1\ncowait:\n  image: found\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    project = load_project(deep)
    assert project.root == tmp_path.resolve() and project.image == "found"


def test_user_config_is_deep_merged_under_the_project(tmp_path, isolated_home):
    # Original flat format of ~/.cowait.yml
    write(isolated_home, """
default_cluster: shared
clusters:
  shared: {type: kubernetes, context: shared-ctx, namespace: team}
  other: {type: kubernetes, context: other-ctx}
environment:
  FROM_USER: u
  OVERRIDDEN: user
""", name=".cowait.yml")
    write(tmp_path / "p", """
version: 1
cowait:
  clusters:
    mine: {type: docker}
    shared: {type: kubernetes, namespace: project-ns}
  environment:
    OVERRIDDEN: project
""")
    project = load_project(tmp_path / "p")
    clusters = project.clusters()
    # The original lost global clusters when the project defined any: here they all survive.
    assert {"shared", "other", "mine", "docker", "kubernetes"} <= set(clusters)
    assert clusters["shared"].context == "shared-ctx"  # from the user file
    assert clusters["shared"].namespace == "project-ns"  # the project wins
    assert project.settings.environment == {"FROM_USER": "u", "OVERRIDDEN": "project"}
    assert project.cluster()[0] == "shared"


def test_xdg_user_config_ranks_below_home_file(tmp_path, isolated_home):
    write(isolated_home / ".config" / "cowait", "cowait:\n  base: xdg-base\n  image: xdg\n", name="config.yml")
    write(isolated_home, "image: home\n", name=".cowait.yml")
    project = load_project(tmp_path)
    assert project.settings.base == "xdg-base"
    assert project.image == "home"


def test_unknown_key_warns_with_line_and_suggestion(tmp_path):
    write(tmp_path, "version: 1\ncowait:\n  image: x\n  enviroment:\n    A: b\n")
    project = load_project(tmp_path)
    assert project.warnings == ["cowait.yml:4: unknown key 'cowait.enviroment' is ignored; did you mean 'environment'?"]


def test_unknown_nested_key_warns(tmp_path):
    write(tmp_path, "version: 1\ncowait:\n  features:\n    notebok: true\n")
    [message] = load_project(tmp_path).warnings
    assert message == "cowait.yml:4: unknown key 'cowait.features.notebok' is ignored; did you mean 'notebook'?"


def test_unknown_top_level_key_without_suggestion(tmp_path):
    write(tmp_path, "version: 1\nrepo: something\ncowait: {}\n")
    assert load_project(tmp_path).warnings == ["cowait.yml:2: unknown key 'repo' is ignored"]


def test_invalid_yaml_names_file_and_line(tmp_path):
    write(tmp_path, "version: 1\ncowait:\n  image: [unclosed\n  base: x\n")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    message = str(info.value)
    assert message.startswith("cowait.yml:4: invalid YAML")
    assert info.value.exit_code == 2
    assert "\n" not in message


def test_wrong_type_names_line_and_key_path(tmp_path):
    write(tmp_path, "version: 1\ncowait:\n  image: test\n  features:\n    notebook: maybe\n")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert str(info.value) == "cowait.yml:5: cowait.features.notebook: Input should be a valid boolean, unable to interpret input, got 'maybe'"


def test_wrong_cluster_type_names_the_cluster(tmp_path):
    write(tmp_path, "version: 1\ncowait:\n  clusters:\n    demo:\n      type: nomad\n")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    message = str(info.value)
    assert message.startswith("cowait.yml:5: cowait.clusters.demo.type: unknown cluster type 'nomad'")
    assert "api, docker, kubernetes" in message and "'cowait.engines' entry point" in message


def test_wrong_type_inside_a_cluster(tmp_path):
    write(tmp_path, "version: 1\ncowait:\n  clusters:\n    demo:\n      type: kubernetes\n      pull_secrets: regcred\n")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert str(info.value).startswith("cowait.yml:6: cowait.clusters.demo.pull_secrets: Input should be a valid list")


def test_unsupported_version(tmp_path):
    write(tmp_path, "version: 2\ncowait: {}\n")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert str(info.value) == "cowait.yml:1: version: Input should be 1, got 2"


def test_top_level_must_be_a_mapping(tmp_path):
    write(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigError, match=r"^cowait.yml:1: expected a mapping at the top level"):
        load_project(tmp_path)


def test_error_in_user_config_names_that_file(tmp_path, isolated_home):
    write(isolated_home, "clusters:\n  x:\n    type: kubernetes\n    namespace: [a]\n", name=".cowait.yml")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert str(info.value).startswith(".cowait.yml:4: clusters.x.namespace: Input should be a valid string")


def test_environment_source_requires_name_and_key(tmp_path):
    write(tmp_path, "version: 1\ncowait:\n  environment:\n    TOKEN: {source: secret, name: s}\n")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert str(info.value).startswith("cowait.yml:4: cowait.environment.TOKEN.key: Field required")


def test_unknown_cluster_lists_known_ones(tmp_path):
    write(tmp_path, "version: 1\ncowait:\n  clusters:\n    demo: {type: kubernetes}\n")
    with pytest.raises(ConfigError, match="unknown cluster 'nope'.*known clusters: demo, docker, kubernetes"):
        load_project(tmp_path).cluster("nope")


def test_json_schema_describes_the_file():
    from cowait.config.schema import CowaitFile

    schema = CowaitFile.model_json_schema()
    settings = schema["$defs"]["CowaitSettings"]["properties"]
    for key in ("image", "base", "workdir", "environment", "volumes", "features", "clusters", "default_cluster",
                "cpu", "cpu_limit", "memory", "memory_limit", "affinity", "dockerfile", "requirements",
                "build_args", "ignore"):
        assert key in settings, key
    json.dumps(schema)


def test_docker_style_memory_is_a_config_error_naming_the_spelling_to_use(tmp_path):
    write(tmp_path, "version: 1\ncowait:\n  image: x\n  memory: 512m\n")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert str(info.value) == ("cowait.yml:4: cowait.memory: memory '512m' would be 512 thousandths of a byte "
                               "(in Kubernetes' quantities m is milli); write 512Mi (or 512M)")
