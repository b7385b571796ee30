"""The one trial recorder that sweeps and tuning share: measure, append, save after every trial, tell.

It also times named stages (calibrate, search, race...), which the report shows, so a user sees
where tuning spent its time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dltune.bench.events import Event
from dltune.bench.space import Planned, shm_needed
from dltune.model import RunResult, Stage, TrialResult
from dltune.model.loader import LoaderConfig
from dltune.model.settings import MeasureSettings
from dltune.store import save_run

TrialRunner = Callable[..., TrialResult]


@dataclass
class Recorder:
    target: str
    run: RunResult
    folder: Path
    runner: TrialRunner
    on_event: Callable[[Event], None] = lambda e: None
    shm_free: int | None = None
    stages: list[Stage] = field(default_factory=list)
    clock: Callable[[], float] = time.perf_counter

    @property
    def trials(self) -> tuple[TrialResult, ...]:
        return self.run.trials

    def repeats_of(self, key: str) -> int:
        return sum(t.key == key for t in self.run.trials)

    def measured(self, key: str) -> bool:
        return self.repeats_of(key) > 0

    def measure(
        self,
        cfg: LoaderConfig,
        settings: MeasureSettings,
        role: str,
        *,
        index: int | None = None,
        total: int = 0,
    ) -> TrialResult:
        """Run one trial, append it to the run and save the run (a crash loses at most this trial)."""
        i = len(self.run.trials) if index is None else index
        planned = Planned(cfg, role)
        self.on_event(Event("trial_start", self.run, index=i, total=total, planned=planned))
        bpp = self.run.preflight.bytes_per_sample if self.run.preflight else None
        result = self.runner(
            self.target,
            cfg,
            settings,
            role=role,
            repeat=self.repeats_of(cfg.key()),
            shm_needed=shm_needed(cfg, bpp) if bpp and cfg.num_workers else None,
            shm_free=self.shm_free,
        )
        self.run = replace(self.run, trials=(*self.run.trials, result))
        save_run(self.run, self.folder)
        self.on_event(
            Event(
                "trial_done",
                self.run,
                index=i,
                total=total,
                trial=result,
                planned=planned,
                folder=self.folder,
            )
        )
        return result

    @contextmanager
    def stage(self, name: str) -> Iterator[list[TrialResult]]:
        """Time a named stage: its trials and wall-clock seconds go into ``stages``. A stage whose
        trials are not kept in the run (what sharding saves) adds them to the list it is given."""
        t0, n0 = self.clock(), len(self.run.trials)
        unkept: list[TrialResult] = []
        try:
            yield unkept
        finally:
            n = len(self.run.trials) - n0 + len(unkept)
            if n:
                self.stages.append(Stage(name, n, round(self.clock() - t0, 2)))

    def finish(self, **fields: Any) -> tuple[RunResult, Path]:
        """Mark the run complete with ``fields`` (search, tuning...), save it and say so."""
        self.run = replace(self.run, complete=True, **fields)
        save_run(self.run, self.folder)
        self.on_event(Event("done", self.run, total=len(self.run.trials), folder=self.folder))
        return self.run, self.folder
