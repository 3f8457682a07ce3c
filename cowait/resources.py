"""Locate the files shipped with cowait: templates, kernelspec, fileshare sidecar, Dockerfile.task."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def data_dir() -> Path:
    """Folder holding templates/, kernel/, fileshare/ and Dockerfile.task.

    In an installed wheel they live in ``cowait/_data``; in a source checkout (editable
    install) they stay at the top of the repository, as the design card lays it out.
    """
    packaged = _PACKAGE_DIR / "_data"
    if (packaged / "Dockerfile.task").is_file():
        return packaged
    checkout = _PACKAGE_DIR.parent
    if (checkout / "Dockerfile.task").is_file():
        return checkout
    raise FileNotFoundError(f"cowait data files are missing: looked in {packaged} and {checkout}")


def data_path(*parts: str) -> Path:
    """Path of one shipped file, e.g. ``data_path("templates", "compose", "run.yml.j2")``."""
    return data_dir().joinpath(*parts)
