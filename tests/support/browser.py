"""A real headless browser for the dashboard's tests: Debian's chromium driven by Playwright, and
where its screenshots go (test artifacts, kept after the run)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("COWAIT_TEST_ARTIFACTS", REPO / "artifacts"))


def chromium_path() -> str:
    """The chromium the provisioning installs (COWAIT_TEST_CHROMIUM to use another)."""
    found = os.environ.get("COWAIT_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("no chromium on PATH: run scripts/provision/test-tools.sh (apt-get install chromium)")
    return found


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact."""
    path = ARTIFACTS / "dashboard" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
