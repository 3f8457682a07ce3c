"""Pack the running cowait distribution as a wheel, so task images carry exactly this version.

This works the same for a regular install and for an editable install from a checkout:
the wheel is packed from the imported ``cowait`` package and the shipped data files, with the
installed distribution's metadata, using ``wheel pack`` (which writes RECORD). The result is
cached by content hash and byte-for-byte reproducible, so Docker's layer cache keeps hitting.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import distribution
from pathlib import Path

from cowait.resources import data_dir

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_DATA_ITEMS = ("templates", "kernel", "fileshare", "Dockerfile.task")
_SKIP_DIRS = {"__pycache__", "_data"}
_EPOCH = "315532800"  # 1980-01-01, the earliest time a zip file can hold


def _package_files() -> list[tuple[str, Path]]:
    """(path inside the wheel, source file) for the package and its data files, sorted."""
    files: list[tuple[str, Path]] = []
    for path in _PACKAGE_DIR.rglob("*"):
        rel = path.relative_to(_PACKAGE_DIR)
        if path.is_file() and not _SKIP_DIRS.intersection(rel.parts) and path.suffix not in (".pyc", ".pyo"):
            files.append((f"cowait/{rel.as_posix()}", path))
    data = data_dir()
    for item in _DATA_ITEMS:
        source = data / item
        if source.is_file():
            files.append((f"cowait/_data/{item}", source))
        elif source.is_dir():
            for path in source.rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    files.append((f"cowait/_data/{item}/{path.relative_to(source).as_posix()}", path))
    return sorted(files)


def _metadata() -> tuple[str, str, str]:
    """(version, METADATA text, entry_points.txt text) of the installed distribution."""
    dist = distribution("cowait")
    return dist.version, dist.read_text("METADATA") or "", dist.read_text("entry_points.txt") or ""


def _key(files: list[tuple[str, Path]], metadata: str, entry_points: str) -> str:
    digest = hashlib.sha256()
    for arcname, path in files:
        digest.update(arcname.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(metadata.encode() + entry_points.encode())
    return digest.hexdigest()[:16]


def runtime_key() -> str:
    """Content hash of the running cowait: equal keys mean identical runtimes."""
    _, metadata, entry_points = _metadata()
    return _key(_package_files(), metadata, entry_points)


def runtime_wheel(cache_dir: Path | None = None) -> Path:
    """Path of a wheel of the running cowait, built once per content and cached."""
    version, metadata, entry_points = _metadata()
    files = _package_files()
    key = _key(files, metadata, entry_points)

    cache = cache_dir or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cowait" / "wheels"
    target_dir = cache / key
    existing = sorted(target_dir.glob("cowait-*.whl")) if target_dir.is_dir() else []
    if existing:
        return existing[0]

    with tempfile.TemporaryDirectory(prefix="cowait-wheel-") as tmp:
        unpacked = Path(tmp) / f"cowait-{version}"
        for arcname, path in files:
            dest = unpacked / arcname
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        info = unpacked / f"cowait-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(metadata)
        (info / "WHEEL").write_text(
            "Wheel-Version: 1.0\nGenerator: cowait\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        if entry_points:
            (info / "entry_points.txt").write_text(entry_points)
        out = Path(tmp) / "out"
        out.mkdir()
        subprocess.run(
            [sys.executable, "-m", "wheel", "pack", "-d", str(out), str(unpacked)],
            check=True,
            capture_output=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": _EPOCH},
        )
        built = next(out.glob("*.whl"))
        target_dir.mkdir(parents=True, exist_ok=True)
        final = target_dir / built.name
        shutil.move(str(built), final)
        return final
