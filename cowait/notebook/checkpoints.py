"""Jupyter's checkpoints kept under the project's ``.cowait/checkpoints/`` (which git ignores), not
in an ``.ipynb_checkpoints`` folder beside each notebook, where `git add .` would pick them up."""

from __future__ import annotations

import os

from jupyter_server.services.contents.filecheckpoints import AsyncFileCheckpoints

CHECKPOINTS = os.path.join(".cowait", "checkpoints")


class ProjectCheckpoints(AsyncFileCheckpoints):
    """File checkpoints in a tree under the server's root that mirrors the notebooks' folders."""

    def checkpoint_path(self, checkpoint_id: str, path: str) -> str:
        parent, name = ("/" + path.strip("/")).rsplit("/", 1)
        basename, ext = os.path.splitext(name)
        folder = os.path.join(self.root_dir, CHECKPOINTS, *[part for part in parent.split("/") if part])
        with self.perm_to_403():
            os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, f"{basename}-{checkpoint_id}{ext}")
