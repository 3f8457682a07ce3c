"""Find, parse, merge and validate cowait.yml and the user-level config, with errors that name file and line."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import BaseModel, ValidationError

from cowait.config.schema import CowaitFile, CowaitSettings
from cowait.errors import ConfigError

PROJECT_FILE = "cowait.yml"


@dataclass
class ParsedFile:
    """One YAML file: its data and its node tree (for line numbers)."""

    path: Path
    data: dict[str, Any]
    node: yaml.Node | None

    def line_of(self, loc: Iterable[Any]) -> tuple[int | None, list[str]]:
        """Line of the deepest node along ``loc``, and the part of ``loc`` that names YAML keys."""
        return _line_of(self.node, list(loc))


@dataclass
class Project:
    """A project: the folder holding cowait.yml, and its settings merged over the user's."""

    root: Path
    file: Path | None
    settings: CowaitSettings
    user_files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def image(self) -> str:
        """Image name (without tag)."""
        return self.settings.image or default_image_name(self.root)

    @property
    def workdir(self) -> Path:
        """The folder holding requirements.txt and .env (``workdir:`` under the root)."""
        return (self.root / self.settings.workdir).resolve()

    def clusters(self) -> dict[str, Any]:
        """Every cluster: built-in ones, then the user's, then the project's."""
        from cowait.config.schema import DockerCluster, KubernetesCluster

        found: dict[str, Any] = {
            "docker": DockerCluster(),
            "kubernetes": KubernetesCluster(type="kubernetes"),
        }
        found.update(self.settings.clusters)
        return found

    def cluster(self, name: str | None = None) -> tuple[str, Any]:
        """The named cluster (or the default one); a ConfigError lists the known names."""
        name = name or self.settings.default_cluster
        clusters = self.clusters()
        if name not in clusters:
            known = ", ".join(sorted(clusters))
            raise ConfigError(f"unknown cluster '{name}'", hint=f"known clusters: {known}; add one with 'cowait cluster add'")
        return name, clusters[name]


def default_image_name(root: Path) -> str:
    """A valid image name made from the project folder's name."""
    name = re.sub(r"[^a-z0-9._-]+", "-", root.name.lower()).strip("-._")
    return name or "cowait-project"


def find_project_file(start: Path | None = None) -> Path | None:
    """Walk up from ``start`` (the cwd) to the first folder holding cowait.yml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def user_config_files() -> list[Path]:
    """User-level config files that exist, lowest priority first."""
    found = []
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    for candidate in (Path(xdg) / "cowait" / "config.yml", Path.home() / ".cowait.yml"):
        if candidate.is_file():
            found.append(candidate)
    return found


def parse_yaml(path: Path) -> ParsedFile:
    """Read one YAML file; bad YAML is a ConfigError with the file and line."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{path.name}{line}: invalid YAML: {problem}", hint=str(path)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: invalid YAML: {exc}", hint=str(path)) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}:1: expected a mapping at the top level, got {type(data).__name__}", hint=str(path))
    return ParsedFile(path=path, data=data, node=node)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into ``base`` recursively: mappings merge, anything else is replaced."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_project(start: Path | None = None, *, use_user_config: bool = True) -> Project:
    """Discover and load the project around ``start`` (default: the cwd)."""
    warnings: list[str] = []
    merged: dict[str, Any] = {}
    user_files = user_config_files() if use_user_config else []
    for user_path in user_files:
        parsed = parse_yaml(user_path)
        settings_data, settings_loc = _user_settings(parsed.data)
        _validate(CowaitSettings, settings_data, parsed, settings_loc, warnings)
        merged = deep_merge(merged, settings_data)

    project_file = find_project_file(start)
    if project_file is not None:
        parsed = parse_yaml(project_file)
        _validate(CowaitFile, parsed.data, parsed, (), warnings)
        merged = deep_merge(merged, parsed.data.get("cowait") or {})
        root = project_file.parent
    else:
        root = (start or Path.cwd()).resolve()

    try:
        settings = CowaitSettings.model_validate(merged)
    except ValidationError as exc:
        origin = project_file or (user_files[-1] if user_files else Path(PROJECT_FILE))
        raise ConfigError(_describe(exc, None, origin, ("cowait",))) from exc
    return Project(root=root, file=project_file, settings=settings, user_files=user_files, warnings=warnings)


def _user_settings(data: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The user-level file is flat (original format) or wrapped in ``cowait:`` like a project file."""
    if isinstance(data.get("cowait"), dict):
        return data["cowait"], ("cowait",)
    return {k: v for k, v in data.items() if k != "version"}, ()


def _validate(model: type[BaseModel], data: dict[str, Any], parsed: ParsedFile, prefix: tuple[str, ...],
              warnings: list[str]) -> BaseModel:
    try:
        instance = model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, parsed, parsed.path, prefix)) from exc
    for loc, key, known in _unknown_keys(instance, prefix):
        line, _ = parsed.line_of((*loc, key))
        where = f"{parsed.path.name}:{line}" if line else parsed.path.name
        dotted = ".".join(str(p) for p in (*loc, key))
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        suggestion = f"; did you mean '{close[0]}'?" if close else ""
        warnings.append(f"{where}: unknown key '{dotted}' is ignored{suggestion}")
    return instance


def _unknown_keys(model: BaseModel, loc: tuple[Any, ...]) -> Iterable[tuple[tuple[Any, ...], str, list[str]]]:
    from cowait.config.schema import EngineCluster

    if isinstance(model, EngineCluster):
        return  # a third engine's own keys are its to check
    known = list(type(model).model_fields)
    for key in (model.model_extra or {}):
        yield loc, key, known
    for name in type(model).model_fields:
        yield from _unknown_in(getattr(model, name), (*loc, name))


def _unknown_in(value: Any, loc: tuple[Any, ...]) -> Iterable[tuple[tuple[Any, ...], str, list[str]]]:
    if isinstance(value, BaseModel):
        yield from _unknown_keys(value, loc)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _unknown_in(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unknown_in(item, (*loc, index))


def _describe(exc: ValidationError, parsed: ParsedFile | None, path: Path, prefix: tuple[str, ...]) -> str:
    errors = exc.errors()
    first = _most_specific(errors)
    loc = (*prefix, *first["loc"])
    line, keys = parsed.line_of(loc) if parsed else (None, [str(p) for p in loc])
    where = f"{path.name}:{line}" if line else path.name
    dotted = ".".join(str(k) for k in keys) or "(top level)"
    message = first["msg"]
    if first["type"] == "value_error":  # our own validators' messages name the value already
        message = str(first.get("ctx", {}).get("error") or message.removeprefix("Value error, "))
    elif first["type"] not in ("missing",) and "input" in first:
        shown = repr(first["input"])
        if len(shown) > 60:
            shown = shown[:57] + "..."
        message = f"{message}, got {shown}"
    others = [e for e in errors if tuple(e["loc"][:len(_union_root(first["loc"]))]) != _union_root(first["loc"])]
    more = f" (+{len(others)} more)" if others else ""
    return f"{where}: {dotted}: {message}{more}"


def _union_root(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The part of an error location before the first union branch name."""
    for index, part in enumerate(loc):
        if _is_union_tag(part):
            return tuple(loc[:index])
    return tuple(loc)


def _most_specific(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """For a value no union branch accepts, the error of the branch that got furthest."""
    root = _union_root(errors[0]["loc"])
    same = [e for e in errors if tuple(e["loc"][:len(root)]) == root]
    return max(same, key=lambda e: len(e["loc"]))


def _line_of(node: yaml.Node | None, loc: list[Any]) -> tuple[int | None, list[str]]:
    """Follow ``loc`` through a YAML node tree; skip pydantic's union tags that are not keys."""
    line = node.start_mark.line + 1 if node is not None else None
    keys: list[str] = []
    for i, part in enumerate(loc):
        child = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(part):
                    child = value_node
                    line = key_node.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is not None:
            node = child
            keys.append(str(part))
        elif i == len(loc) - 1 and isinstance(node, yaml.MappingNode) and not _is_union_tag(part):
            keys.append(str(part))  # a missing key: name it, point at its parent
    return line, keys


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (part[:1].isupper() or "[" in part or part in {"str", "int", "float", "bool", "list", "dict"})
