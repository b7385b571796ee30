"""The side-by-side race: rounds go on while the candidates are too close to rank, within a time budget."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dltune.bench.confirm import race
from dltune.model import LoaderConfig, MeasureSettings, TrialResult

from .synthetic import trial

FAST = LoaderConfig(batch_size=64, num_workers=8, prefetch_factor=2)
SLOW = LoaderConfig(batch_size=64, num_workers=4, prefetch_factor=2)
# FAST is 6% faster; each trial reads up to 3% off, in opposite directions for the first two rounds
# (they look alike there), then on its true rate
TRUTH = {FAST.key(): 1000.0, SLOW.key(): 940.0}
NOISE = [1.03, 0.97, 1.0, 1.01, 0.99, 1.0]


class FakeRecorder:
    """Measures by the table above; every trial takes ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.trials: list[TrialResult] = []

    def measure(self, cfg: LoaderConfig, settings: MeasureSettings, role: str, **_: Any) -> TrialResult:
        n = sum(t.key == cfg.key() for t in self.trials)
        wobble = NOISE[n] if cfg == FAST else 2 - NOISE[n]
        t = trial(cfg.num_workers, TRUTH[cfg.key()] * wobble, role=role)
        t = replace(t, key=cfg.key(), config=cfg, duration_s=self.seconds)
        self.trials.append(t)
        return t


def _race(seconds: float, budget: float | None, max_rounds: int = 5):
    rec = FakeRecorder(seconds)
    return race(rec, [SLOW, FAST], MeasureSettings(), max_rounds=max_rounds, budget_s=budget), rec  # type: ignore[arg-type]


def test_rounds_go_on_until_a_close_pair_is_ranked() -> None:
    # two rounds cannot separate 6% (the prior noise of one short trial is 6%); a third, with the race's
    # own spread pooled, can
    result, rec = _race(seconds=1.0, budget=100.0)
    assert result.rounds == 3 and result.ended == "decided"
    assert result.winner == FAST.key() and result.alive == (FAST.key(),)
    assert len(rec.trials) == 6


def test_expensive_rounds_stop_at_the_budget_with_the_leader() -> None:
    # 10 s trials: two rounds spend 40 s, a third would reach 60 s, past the 50 s budget
    result, rec = _race(seconds=10.0, budget=50.0)
    assert result.rounds == 2 and result.ended == "budget"
    assert len(rec.trials) == 4
    assert set(result.alive) == {FAST.key(), SLOW.key()}  # not ranked, and the report says so
    # a budget that holds the third round lets it decide
    result, _ = _race(seconds=10.0, budget=60.0)
    assert result.rounds == 3 and result.ended == "decided"


def test_the_round_cap_ends_an_undecided_race() -> None:
    result, _ = _race(seconds=1.0, budget=None, max_rounds=2)
    assert result.rounds == 2 and result.ended == "rounds"


def test_the_cheapest_close_configuration_is_raced_too() -> None:
    from dltune.bench.confirm import close_to_best

    trials = [trial(w, rate) for w, rate in ((64, 4600.0), (48, 4550.0), (22, 4400.0), (8, 1800.0))]
    allowed = {t.key: t.config for t in trials}
    picked = [c.num_workers for c in close_to_best(trials, allowed, most=2)]
    assert picked == [64, 48, 22]  # the two fastest, and 22 workers: within 6%, the report's pick among ties
    assert [c.num_workers for c in close_to_best(trials, allowed, most=3)] == [64, 48, 22]
    # a trial with a wide interval overlaps the best's, but 8 workers, 60% slower, is no candidate for a tie
    trials[3] = trial(8, 1800.0, spread=0.9)
    assert [c.num_workers for c in close_to_best(trials, allowed, most=2)] == [64, 48, 22]
    # a close configuration that costs what a raced one does adds a trial and no choice
    same = [trial(64, 4600.0), trial(32, 4550.0), trial(32, 4400.0, bs=128)]
    assert [c.num_workers for c in close_to_best(same, {t.key: t.config for t in same}, most=2)] == [64, 32]
    # nothing close enough to race: no race, whatever is cheapest
    alone = [trial(64, 4600.0), trial(8, 1800.0)]
    assert [c.num_workers for c in close_to_best(alone, {t.key: t.config for t in alone}, most=2)] == [64]
