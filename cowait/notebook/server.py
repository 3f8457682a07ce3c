"""The Jupyter Lab server as a task: ``cowait notebook`` runs it in the project image."""

from __future__ import annotations

import asyncio
import os
import sys

from cowait.runtime.task import Task


class JupyterLab(Task):
    """Serves Jupyter Lab on ``port`` with ``token``; its kernels are Cowait kernels by default."""

    async def run(self, token: str, port: int = 8888) -> None:
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime"}
        command = [
            sys.executable, "-m", "jupyterlab", "--ip=0.0.0.0", f"--port={port}", "--no-browser", "--allow-root",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={os.getcwd()}",
            "--MappingKernelManager.default_kernel_name=cowait", "--ServerApp.allow_remote_access=True",
            "--ContentsManager.checkpoints_class=cowait.notebook.checkpoints.ProjectCheckpoints",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        process = await asyncio.create_subprocess_exec(*command, env=env)
        try:
            code = await process.wait()
        except BaseException:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10)
                except Exception:
                    process.kill()
            raise
        if code != 0:
            raise RuntimeError(f"jupyter lab exited with code {code}")
