"""Install the Cowait kernelspec into this Python environment (``python -m cowait.notebook.kernelspec``)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from cowait.resources import data_path

KERNEL_NAME = "cowait"


def install(prefix: str | None = None) -> Path | None:
    """Copy ``kernel/cowait`` to ``PREFIX/share/jupyter/kernels/cowait``; None when ipykernel is absent."""
    if importlib.util.find_spec("ipykernel") is None:
        return None
    target = Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    target.mkdir(parents=True, exist_ok=True)
    for item in data_path("kernel", KERNEL_NAME).iterdir():
        shutil.copy(item, target / item.name)
    return target


if __name__ == "__main__":
    installed = install()
    print(f"cowait kernelspec: {installed or 'skipped (no ipykernel)'}")
