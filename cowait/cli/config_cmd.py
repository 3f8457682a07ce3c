"""``cowait config show|schema``."""

from __future__ import annotations

import click


@click.group()
def config() -> None:
    """Inspect the configuration (cowait.yml merged over ~/.cowait.yml)."""


@config.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
def show(as_json: bool) -> None:
    """Print the merged configuration, with defaults filled in."""
    import json

    import yaml

    from cowait.cli.output import info, result
    from cowait.cli.project import open_project

    project = open_project()
    sources = [str(p) for p in project.user_files] + ([str(project.file)] if project.file else [])
    info("# from: " + (", ".join(sources) if sources else "defaults (no cowait.yml found)"))
    data = {"version": 1, "cowait": project.settings.model_dump(mode="json", exclude_none=True)}
    data["cowait"].setdefault("image", project.image)
    if as_json:
        result(json.dumps(data, indent=2))
    else:
        result(yaml.safe_dump(data, sort_keys=False).rstrip())


@config.command()
def schema() -> None:
    """Print the JSON Schema of cowait.yml, for editors."""
    import json

    from cowait.cli.output import result
    from cowait.config.schema import CowaitFile

    document = CowaitFile.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "cowait.yml"
    result(json.dumps(document, indent=2))
