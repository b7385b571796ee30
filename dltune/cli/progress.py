"""The live view of a sweep on stderr: a progress bar and the best configurations so far."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from dltune.bench.runner import Event
from dltune.report.tables import pruned_lines, trials_panel


class SweepProgress:
    def __init__(self, console: Console, label: str) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task(escape(f"bench {label}"), total=None)
        self.live = Live(self.progress, console=console, refresh_per_second=4, transient=True)
        self.folder: Path | None = None
        self.finished = 0

    def __enter__(self) -> SweepProgress:
        self.live.__enter__()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.live.__exit__(t, e, tb)

    def update(self, event: Event) -> None:
        if event.kind == "planned":
            self.folder = event.folder
            done = len(event.run.trials)
            self.progress.update(self.task, total=event.total or None, completed=done)
            lines = pruned_lines(event.run.pruned)
            if event.total:
                self.console.print(
                    f"{event.total} trials planned" + (f"; {done} already done" if done else "")
                )
            for line in lines:
                self.console.print(Text("  " + line, style="dim"))
        elif event.kind == "trial_start" and event.planned is not None:
            self.progress.update(self.task, description=escape(event.planned.config.key()))
        elif event.kind == "trial_done":
            self.finished = len(event.run.trials)
            self.progress.update(self.task, completed=self.finished)
            table = trials_panel(event.run.trials, "best so far", limit=5)
            self.live.update(Group(self.progress, table))
