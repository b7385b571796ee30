"""The view of a sweep on stderr: on a terminal a live progress bar and the best configurations so far;
elsewhere (CI logs, a file) one plain line per finished trial, which a log viewer shows as it comes."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from dltune.bench.runner import Event
from dltune.cli.console import Verbosity
from dltune.model import TrialResult
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
        self.total = 0
        self.plain = not console.is_terminal
        self.quiet = Verbosity.quiet

    def __enter__(self) -> SweepProgress:
        if not (self.plain or self.quiet):
            self.live.__enter__()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not (self.plain or self.quiet):
            self.live.__exit__(t, e, tb)

    def update(self, event: Event) -> None:
        if self.quiet:
            self.folder = event.folder or self.folder
            self.finished = len(event.run.trials)
            return
        if event.kind == "planned":
            self.total = event.total
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
            if self.plain and event.trial is not None:
                self.console.print(
                    trial_line(event.trial, self.finished, self.total), soft_wrap=True, markup=False
                )
                return
            self.progress.update(self.task, completed=self.finished)
            table = trials_panel(event.run.trials, "best so far", limit=5)
            self.live.update(Group(self.progress, table))


def trial_line(trial: TrialResult, done: int, total: int) -> str:
    """'[ 7/24] w4-b64-pf2-off-persist  1,234 samples/s +-3%  (race)' - one trial as a log line."""
    count = f"[{done:>{len(str(total))}}/{total}]" if total >= done else f"[{done}]"
    role = f"  ({trial.role})" if trial.role != "sweep" else ""
    m = trial.metrics
    if trial.ok and m is not None:
        rel = (m.samples_per_s_high - m.samples_per_s) / m.samples_per_s if m.samples_per_s else 0.0
        return f"{count} {trial.key}  {m.samples_per_s:,.0f} samples/s +-{rel:.0%}{role}"
    return f"{count} {trial.key}  {trial.status}: {trial.reason or ''}"[:300] + role
