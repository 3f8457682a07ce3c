"""``cowait cluster ls|get|add|rm|set-default|setup``: clusters in the user-level config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cowait.cli.params import KeyValue

BUILTIN = ("docker", "kubernetes")


def user_file() -> Path:
    """The user-level file cluster commands edit (the original's ~/.cowait.yml)."""
    return Path.home() / ".cowait.yml"


def _load_user() -> tuple[Any, Any]:
    """(document, settings mapping) of the user file, round-trip (comments kept)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    yaml = YAML()
    path = user_file()
    document = yaml.load(path.read_text()) if path.is_file() else None
    if document is None:
        document = CommentedMap()
    settings = document["cowait"] if isinstance(document.get("cowait"), dict) else document
    return document, settings


def _save_user(document: Any) -> None:
    from ruamel.yaml import YAML

    path = user_file()
    tmp = path.with_suffix(".yml.tmp")
    with tmp.open("w") as handle:
        YAML().dump(document, handle)
    tmp.replace(path)


@click.group()
def cluster() -> None:
    """Manage clusters (kept in ~/.cowait.yml; a project's cowait.yml may add its own)."""


@cluster.command("ls")
def list_clusters() -> None:
    """List every cluster, marking the default."""
    from cowait.cli.output import result
    from cowait.cli.project import open_project

    project = open_project()
    _, user_settings = _load_user()
    user_names = set((user_settings.get("clusters") or {}).keys())
    project_names = set()
    if project.file is not None:
        import yaml

        data = yaml.safe_load(project.file.read_text()) or {}
        project_names = set(((data.get("cowait") or {}).get("clusters") or {}).keys())
    rows = [("NAME", "TYPE", "DEFAULT", "DEFINED IN")]
    for name, config in sorted(project.clusters().items()):
        where = "cowait.yml" if name in project_names else "~/.cowait.yml" if name in user_names else "built-in"
        rows.append((name, config.type, "*" if name == project.settings.default_cluster else "", where))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        result("   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@cluster.command("get")
@click.argument("name")
def get_cluster(name: str) -> None:
    """Print one cluster's settings."""
    import yaml

    from cowait.cli.output import result
    from cowait.cli.project import open_project

    _, config = open_project().cluster(name)
    result(yaml.safe_dump({name: config.model_dump(mode="json", exclude_none=True)}, sort_keys=False).rstrip())


@cluster.command("add")
@click.argument("name")
@click.option("--type", "kind", default="kubernetes", show_default=True,
              help="kubernetes, docker, or the name of an installed engine.")
@click.option("--context", help="kubeconfig context.")
@click.option("--namespace", help="Namespace of task pods.")
@click.option("--kube-config-file", help="kubeconfig file (default: KUBECONFIG or ~/.kube/config).")
@click.option("-o", "--option", "options", type=KeyValue(decode_json=True), multiple=True,
              help="Any other setting KEY=VALUE (repeatable).")
@click.option("--force", is_flag=True, help="Replace a cluster of that name.")
def add_cluster(name: str, kind: str, context: str | None, namespace: str | None, kube_config_file: str | None,
                options: tuple[tuple[str, Any], ...], force: bool) -> None:
    """Add a cluster to ~/.cowait.yml."""
    from pydantic import TypeAdapter, ValidationError

    from cowait.cli.output import result
    from cowait.config.schema import Cluster
    from cowait.errors import UsageError

    if name in BUILTIN:
        raise UsageError(f"'{name}' is a built-in cluster name; choose another")
    settings: dict[str, Any] = {"type": kind, **dict(options)}
    for key, value in (("context", context), ("namespace", namespace), ("kube_config_file", kube_config_file)):
        if value:
            settings[key] = value
    try:
        TypeAdapter(Cluster).validate_python(settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageError(f"cluster {name}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    document, user_settings = _load_user()
    clusters = user_settings.setdefault("clusters", {})
    if name in clusters and not force:
        raise UsageError(f"cluster '{name}' exists in {user_file()}", hint="use --force to replace it")
    clusters[name] = settings
    _save_user(document)
    result(f"added cluster {name} to {user_file()}")


@cluster.command("rm")
@click.argument("name")
def remove_cluster(name: str) -> None:
    """Remove a cluster from ~/.cowait.yml."""
    from cowait.cli.output import result
    from cowait.errors import UsageError

    document, user_settings = _load_user()
    clusters = user_settings.get("clusters") or {}
    if name not in clusters:
        raise UsageError(f"no cluster '{name}' in {user_file()}")
    if user_settings.get("default_cluster") == name:
        raise UsageError(f"'{name}' is the default cluster", hint="set another with 'cowait cluster set-default'")
    del clusters[name]
    _save_user(document)
    result(f"removed cluster {name}")


@cluster.command("set-default")
@click.argument("name")
def set_default(name: str) -> None:
    """Make NAME the default cluster (in ~/.cowait.yml)."""
    from cowait.cli.output import result
    from cowait.cli.project import open_project

    open_project().cluster(name)  # must exist
    document, user_settings = _load_user()
    user_settings["default_cluster"] = name
    _save_user(document)
    result(f"default cluster: {name}")


@cluster.command("setup")
@click.argument("name")
@click.option("--print", "print_only", is_flag=True, help="Print the manifests instead of applying them.")
def setup(name: str, print_only: bool) -> None:
    """Create what the cluster's tasks need (on Kubernetes: the least-privilege ServiceAccount,
    Role and RoleBinding of task pods)."""
    from cowait.cli.output import result
    from cowait.cli.project import open_project
    from cowait.runs.engines import cluster_engine

    _, engine = cluster_engine(open_project(), name)
    for line in engine.setup(print_only):
        result(line)
