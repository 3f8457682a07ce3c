"""Assemble the build context of a task image: the project's files and what cowait generates."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

_FIXED_MTIME = 315532800  # generated files get a fixed time, so identical content hashes alike

# Never sent to the engine, whatever .dockerignore says: they are local state, not project files.
ALWAYS_IGNORED = [".git", ".cowait", ".venv", "**/__pycache__", "**/*.pyc", ".ipynb_checkpoints", "**/.ipynb_checkpoints"]


@dataclass
class BuildContext:
    """Files of one build: ``project/<relative path>`` from disk, ``cowait/<name>`` generated."""

    project_root: Path
    project_files: list[str]
    generated: dict[str, bytes] = field(default_factory=dict)

    def add(self, name: str, content: bytes) -> None:
        """Add a generated file under ``cowait/``."""
        self.generated[name] = content

    def content_hash(self, *extra: str) -> str:
        """Hash of every file's path, mode and bytes, plus ``extra`` strings (Dockerfile, args, base id)."""
        digest = hashlib.sha256()
        for rel in self.project_files:
            path = self.project_root / rel
            digest.update(rel.encode() + b"\0")
            if path.is_symlink():
                digest.update(b"L" + os.readlink(path).encode())
            elif path.is_dir():
                digest.update(b"D")
            else:
                digest.update(oct(path.stat().st_mode & 0o777).encode())
                digest.update(path.read_bytes())
        for name in sorted(self.generated):
            digest.update(name.encode() + b"\0" + self.generated[name])
        for item in extra:
            digest.update(item.encode() + b"\0")
        return digest.hexdigest()

    def tar(self) -> io.BytesIO:
        """The context as an uncompressed tar stream, as the Docker API takes it."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for rel in self.project_files:
                archive.add(self.project_root / rel, arcname=f"project/{rel}", recursive=False)
            for name in sorted(self.generated):
                info = tarfile.TarInfo(f"cowait/{name}")
                info.size = len(self.generated[name])
                info.mtime = _FIXED_MTIME
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(self.generated[name]))
        buffer.seek(0)
        return buffer


def read_ignore_file(root: Path) -> list[str]:
    """Patterns of ``root/.dockerignore`` (comments and blanks dropped)."""
    path = root / ".dockerignore"
    if not path.is_file():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]


def project_files(root: Path, extra_ignore: list[str] | None = None) -> list[str]:
    """Files and folders of ``root`` that go into the image, honouring .dockerignore and ``ignore:``.

    Pattern matching is the Docker SDK's own implementation of .dockerignore rules.
    """
    from docker.utils.build import exclude_paths

    patterns = ALWAYS_IGNORED + read_ignore_file(root) + list(extra_ignore or [])
    included = exclude_paths(str(root), patterns)
    return sorted(p.replace(os.sep, "/") for p in included if p not in ("", "."))
