"""Project scaffolding for ``cowait new``: write example files, never overwrite."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_FILES = Path(__file__).resolve().parent / "files"
# name in the project -> template name in files/
SCAFFOLD = {
    "cowait.yml": "cowait.yml",
    "requirements.txt": "requirements.txt",
    ".dockerignore": "dockerignore",
    "hello.py": "hello.py",
    "hello.ipynb": "hello.ipynb",
    "test_hello.py": "test_hello.py",
}


@dataclass
class ScaffoldResult:
    created: list[Path]
    kept: list[Path]


def scaffold(target: Path, image: str | None = None, base: str | None = None) -> ScaffoldResult:
    """Write the example project into ``target``; existing files are left untouched."""
    target.mkdir(parents=True, exist_ok=True)
    created: list[Path] = []
    kept: list[Path] = []
    for name, template in SCAFFOLD.items():
        path = target / name
        if path.exists():
            kept.append(path)
            continue
        text = (_FILES / template).read_text()
        if name == "cowait.yml":
            text = _render_config(text, image, base)
        # "x" mode: fails instead of overwriting if the file appeared meanwhile
        with path.open("x") as handle:
            handle.write(text)
        created.append(path)
    return ScaffoldResult(created, kept)


def _render_config(text: str, image: str | None, base: str | None) -> str:
    lines = []
    for line in text.splitlines():
        if line.strip().startswith("# image:") and image:
            line = f"  image: {image}"
        elif line.strip().startswith("# base:") and base:
            line = f"  base: {base}"
        lines.append(line)
    return "\n".join(lines) + "\n"
