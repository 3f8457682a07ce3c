"""A local run: its root started through its Compose project, every container of it removed at the end."""

from __future__ import annotations

from cowait.runs.lifecycle import Run
from cowait.runs.record import RunRecord
from cowait.runtime.taskdef import TaskDefinition


class DockerRun(Run):
    """A run on the local engine: the root through its Compose project, removed with every container."""

    def __init__(self, root: TaskDefinition, record: RunRecord) -> None:
        from cowait.engine.docker.tasks import DockerTaskEngine

        super().__init__(root, record, DockerTaskEngine())
        self.project = root.engine_options["compose_project"]

    def start(self) -> None:
        """Render the Compose project into the record and bring it up."""
        from cowait.engine.docker.compose import compose_up
        from cowait.render.compose import render_compose

        rendered = render_compose(self.root)
        self.record.create()
        compose_file = self.record.write_compose(rendered)
        self.record.write_summary(self._summary("running"))
        compose_up(compose_file, self.project, f"run {self.root.id}")

    def remove(self) -> None:
        self.engine.remove_run(self.root.run)
