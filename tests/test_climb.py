"""The climb along the worker axis (dltune.bench.climb): what it measures, driven by a table of rates."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from dltune.bench.ceiling import ladder
from dltune.bench.climb import climb, off_axis_best
from dltune.model import LoaderConfig, MeasureSettings, TrialResult

from .synthetic import trial

# the text example: tokenising in the main process beats every worker count by a third
TEXT = {0: 41396.0, 1: 17074.0, 2: 26921.0, 4: 28684.0, 8: 31284.0, 11: 25321.0, 16: 28424.0, 32: 26471.0}


class TableRecorder:
    """Measures by a table of samples/s by worker count (batch 64, prefetch 2)."""

    def __init__(self, table: dict[int, float]) -> None:
        self.table = table
        self.trials: list[TrialResult] = []
        self.ranked_against: list[float] = []

    def measure(self, cfg: LoaderConfig, settings: MeasureSettings, role: str, **_: Any) -> TrialResult:
        self.ranked_against.append(settings.rank_against)
        t = replace(trial(cfg.num_workers, self.table[cfg.num_workers], role=role), key=cfg.key(), config=cfg)
        self.trials.append(t)
        return t


def make(w: int) -> LoaderConfig | None:
    return LoaderConfig(batch_size=64, num_workers=w, prefetch_factor=2) if w > 0 else None


def _climb(start: list[int]) -> list[int]:
    rec = TableRecorder(TEXT)
    for w in start:
        rec.measure(make(w) or LoaderConfig(batch_size=64, num_workers=0), MeasureSettings(), "screen")
    climb(rec, make, ladder(8, 64), MeasureSettings(), allowed=None, ceiling=64, steps=8)  # type: ignore[arg-type]
    return [t.config.num_workers for t in rec.trials[len(start) :]]


def test_the_climb_skips_counts_that_cannot_reach_the_main_process() -> None:
    # without the main process measured, the climb narrows the peak between 8 and 16 workers
    assert _climb([1, 2, 4, 8]) == [16, 11]
    # with it (41,396 samples/s, off the worker axis), 11 workers could reach at most 33,234: not measured
    assert _climb([0, 1, 2, 4, 8]) == [16]


def test_the_best_off_the_axis_counts_only_other_configurations() -> None:
    rec = TableRecorder(TEXT)
    for w in (1, 8):
        rec.measure(make(w), MeasureSettings(), "screen")  # type: ignore[arg-type]
    assert off_axis_best(rec, make) == 0.0  # type: ignore[arg-type]
    # another batch size is off the axis too
    rec.measure(LoaderConfig(batch_size=128, num_workers=8, prefetch_factor=2), MeasureSettings(), "screen")
    assert off_axis_best(rec, make) == pytest.approx(TEXT[8])  # type: ignore[arg-type]
    rec.measure(LoaderConfig(batch_size=64, num_workers=0), MeasureSettings(), "screen")
    assert off_axis_best(rec, make) == pytest.approx(TEXT[0])  # type: ignore[arg-type]


def test_tuning_ranks_each_step_against_the_best_so_far() -> None:
    # a step clearly behind the main process ends its window once that is clear (tuning's screens do the same)
    for rank, against in ((True, TEXT[0]), (False, 0.0)):
        rec = TableRecorder(TEXT)
        for w in (0, 1, 2, 4, 8):
            rec.measure(make(w) or LoaderConfig(batch_size=64, num_workers=0), MeasureSettings(), "screen")
        climb(rec, make, ladder(8, 64), MeasureSettings(), allowed=None, ceiling=64, steps=8, rank=rank)  # type: ignore[arg-type]
        assert rec.ranked_against[5:] == [pytest.approx(against)]  # the one step: 16 workers
