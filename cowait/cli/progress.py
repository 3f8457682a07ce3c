"""Live progress for long work: image build steps and push layers (rich on a terminal, plain lines otherwise)."""

from __future__ import annotations

import sys
from types import TracebackType

from cowait.cli.output import color_enabled, info, warning


class BuildView:
    """Shows build steps as they run: a spinner with the step and its last output line on a
    terminal, one line per step in a log (CI), nothing when quiet."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.live = None
        self.step = ""
        self.last = ""
        self.verbose_output = False

    def __enter__(self) -> "BuildView":
        if not self.quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.live import Live

            console = Console(stderr=True, no_color=not color_enabled())
            self.live = Live(self._render(), console=console, refresh_per_second=8, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.live is not None:
            self.live.__exit__(exc_type, exc, tb)

    def _render(self):
        from rich.spinner import Spinner
        from rich.text import Text

        text = Text(self.step or "preparing build context")
        if self.last:
            text.append("\n  " + self.last[-120:], style="dim")
        return Spinner("dots", text=text)

    def __call__(self, kind: str, text: str) -> None:
        if kind == "step":
            text = " ".join(text.split())
            text = text if len(text) <= 100 else text[:97] + "..."
        if self.quiet and kind != "warning":
            return
        if kind == "warning":
            if self.live is not None:
                self.live.console.print(f"[yellow]warning:[/] {text}")
            else:
                warning(text)
            return
        if self.live is not None:
            if kind == "step":
                if self.step:
                    self.live.console.print(f"[green]✔[/] {self.step}", highlight=False)
                self.step, self.last = text, ""
            elif kind == "output":
                self.last = text.strip()
            else:
                self.live.console.print(text, style="dim", highlight=False)
            self.live.update(self._render())
        elif kind in ("step", "info"):
            info(text)

    def finish(self) -> None:
        """Mark the last step done."""
        if self.live is not None and self.step:
            self.live.console.print(f"[green]✔[/] {self.step}", highlight=False)
            self.step = ""


class PushView:
    """One progress bar per layer while pushing."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.progress = None
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> "PushView":
        if not self.quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

            console = Console(stderr=True, no_color=not color_enabled())
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                     console=console, transient=True)
            self.progress.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc_info)

    def __call__(self, layer: str, status: str, current: int, total: int) -> None:
        if self.progress is None:
            if not self.quiet and status in ("Pushed", "Layer already exists"):
                info(f"{layer}: {status}")
            return
        if layer not in self.tasks:
            self.tasks[layer] = self.progress.add_task(f"{layer} {status}", total=total or None)
        task = self.tasks[layer]
        if status in ("Pushed", "Layer already exists"):
            done = self.progress.tasks[task].total or 1
            self.progress.update(task, description=f"{layer} {status}", total=done, completed=done)
        else:
            self.progress.update(task, description=f"{layer} {status}", completed=current, total=total or None)
