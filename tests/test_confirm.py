"""The side-by-side race: rounds go on while the candidates are too close to rank, within a time budget."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dltune.bench.confirm import race
from dltune.model import LoaderConfig, MeasureSettings, TrialResult

from .synthetic import trial

FAST = LoaderConfig(batch_size=64, num_workers=8, prefetch_factor=2)
SLOW = LoaderConfig(batch_size=64, num_workers=4, prefetch_factor=2)
# FAST is 6% faster, but its first two trials read low and SLOW's high: two rounds cannot rank them
APART = {FAST.key(): [970.0, 970.0, 1000.0, 1000.0, 1000.0], SLOW.key(): [968.0, 968.0, 900.0, 940.0, 940.0]}
# the same rate, each trial 4% off either way: no number of rounds this side of dozens ranks them
ALIKE = {
    FAST.key(): [1040.0, 960.0, 1000.0, 1040.0, 960.0],
    SLOW.key(): [960.0, 1040.0, 1000.0, 960.0, 1040.0],
}


class FakeRecorder:
    """Measures by a table (the n-th trial of a configuration reads its n-th rate); every trial takes ``seconds``."""

    def __init__(self, seconds: float, table: dict[str, list[float]]) -> None:
        self.seconds, self.table = seconds, table
        self.trials: list[TrialResult] = []

    def measure(self, cfg: LoaderConfig, settings: MeasureSettings, role: str, **_: Any) -> TrialResult:
        n = sum(t.key == cfg.key() for t in self.trials)
        t = trial(cfg.num_workers, self.table[cfg.key()][n], role=role)
        t = replace(t, key=cfg.key(), config=cfg, duration_s=self.seconds)
        self.trials.append(t)
        return t


def _race(seconds: float, budget: float | None, max_rounds: int = 5, table: dict[str, list[float]] = APART):
    rec = FakeRecorder(seconds, table)
    return race(rec, [SLOW, FAST], MeasureSettings(), max_rounds=max_rounds, budget_s=budget), rec  # type: ignore[arg-type]


def test_rounds_go_on_until_choosing_between_a_close_pair_is_safe() -> None:
    # two rounds cannot separate them (the prior noise of one short trial is 6%); after a third, with the
    # race's own spread pooled with the prior, choosing the leader is expected to cost well under 1%
    result, rec = _race(seconds=1.0, budget=100.0)
    assert result.rounds == 3 and result.ended == "close"
    assert result.winner == FAST.key()
    assert len(rec.trials) == 6


def test_expensive_rounds_stop_at_the_budget_with_the_leader() -> None:
    # 10 s trials: two rounds spend 40 s, a third would reach 60 s, past the 50 s budget
    result, rec = _race(seconds=10.0, budget=50.0)
    assert result.rounds == 2 and result.ended == "budget"
    assert len(rec.trials) == 4
    assert set(result.alive) == {FAST.key(), SLOW.key()}  # not ranked, and the report says so
    # a budget that holds the third round lets it settle
    result, _ = _race(seconds=10.0, budget=60.0)
    assert result.rounds == 3 and result.ended == "close" and result.winner == FAST.key()


def test_the_round_cap_ends_an_undecided_race() -> None:
    result, _ = _race(seconds=1.0, budget=None, max_rounds=2)
    assert result.rounds == 2 and result.ended == "rounds"


def test_a_race_between_interchangeable_candidates_stops_once_the_choice_costs_little() -> None:
    # equal rates, 4% noise per trial: after three rounds the choice could still cost 1.5% (the spread
    # pooled with the prior's 6%); after four, under 1%: more rounds would not pay
    result, rec = _race(seconds=1.0, budget=None, max_rounds=5, table=ALIKE)
    assert result.rounds == 4 and result.ended == "close"
    assert set(result.alive) == {FAST.key(), SLOW.key()}  # neither was shown slower
    assert len(rec.trials) == 8  # not the 10 of five rounds


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
    # one low screen, 10% behind (two short screens of one configuration differ that much), still gets its race
    low = [trial(64, 4600.0), trial(48, 4550.0), trial(16, 4150.0), trial(12, 3900.0)]
    assert [c.num_workers for c in close_to_best(low, {t.key: t.config for t in low}, most=2)] == [64, 48, 16]
    # nothing close enough to race: no race, whatever is cheapest
    alone = [trial(64, 4600.0), trial(8, 1800.0)]
    assert [c.num_workers for c in close_to_best(alone, {t.key: t.config for t in alone}, most=2)] == [64]


def test_a_candidate_further_behind_than_one_slow_spell_reaches_is_dropped_after_one_round() -> None:
    # the main process at nearly twice the rate of 8 workers (the text example): no noise of a single
    # round explains that, so the race ends after it, two trials instead of four
    far = {FAST.key(): [19_000.0, 19_000.0], SLOW.key(): [10_000.0, 10_000.0]}
    result, rec = _race(seconds=1.0, budget=None, table=far)
    assert result.rounds == 1 and result.ended == "decided" and result.winner == FAST.key()
    assert result.alive == (FAST.key(),) and len(rec.trials) == 2
    # 30% behind in one round is within what a slow spell can do to one trial: a second round is run
    near = {FAST.key(): [1000.0, 1000.0, 1000.0], SLOW.key(): [700.0, 950.0, 950.0]}
    result, rec = _race(seconds=1.0, budget=None, table=near)
    assert result.rounds >= 2 and len(rec.trials) >= 4


def test_race_trials_get_loose_windows_and_no_leader_to_stop_against() -> None:
    """The race ranks from its repeats: its trials' windows end at a looser precision than a screen's (a
    more precise window did not make repeats agree better), and never stop early against a leader's rate."""
    seen: list[MeasureSettings] = []

    class Spy(FakeRecorder):
        def measure(self, cfg: LoaderConfig, settings: MeasureSettings, role: str, **kw: Any) -> TrialResult:
            seen.append(settings)
            return super().measure(cfg, settings, role, **kw)

    rec = Spy(1.0, APART)
    screen = MeasureSettings(precision=0.04, rank_against=950.0, max_seconds=3.0)
    race(rec, [SLOW, FAST], screen, max_rounds=2)  # type: ignore[arg-type]
    assert seen and all(s.precision == 0.08 and s.rank_against == 0 and s.max_seconds == 3.0 for s in seen)
    seen.clear()
    race(Spy(1.0, APART), [SLOW, FAST], MeasureSettings(precision=0), max_rounds=2)  # type: ignore[arg-type]
    assert all(s.precision == 0 for s in seen)  # no target asked for: none added


def test_a_prefetch_depth_screened_close_behind_is_raced_before_a_second_worker_count() -> None:
    from dltune.bench.confirm import close_to_best

    # the bursty case: prefetch 4 screened once, 5% behind prefetch 2 at 32 workers; 21 and 24 workers at
    # prefetch 2 read between. Without the depth, the race held prefetch 2 only and never looked at 4 again
    trials = [trial(32, 609.0), trial(24, 600.0), trial(21, 590.0), trial(32, 576.0, pf=4), trial(16, 500.0)]
    allowed = {t.key: t.config for t in trials}
    picked = [(c.num_workers, c.prefetch_factor) for c in close_to_best(trials, allowed, most=2)]
    assert picked == [(32, 2), (32, 4), (21, 2)]  # the best, the other depth's best, the cheapest close
    # a depth further behind than the race's reach is not raced
    far = [*trials[:3], trial(32, 480.0, pf=4)]
    picked = [
        (c.num_workers, c.prefetch_factor) for c in close_to_best(far, {t.key: t.config for t in far}, most=2)
    ]
    assert picked == [(32, 2), (24, 2), (21, 2)]


def test_the_main_process_is_no_other_prefetch_depth() -> None:
    from dltune.bench.confirm import close_to_best

    # the main process screened 5% behind: it is one more worker count, and takes no place ahead of 3 workers
    trials = [trial(2, 620.0), trial(3, 610.0), trial(0, 590.0)]
    picked = [c.num_workers for c in close_to_best(trials, {t.key: t.config for t in trials}, most=2)]
    assert picked == [2, 3, 0]  # the two fastest, then the main process as the cheapest close one
    trials = [trial(2, 620.0), trial(3, 610.0), trial(4, 600.0), trial(0, 500.0)]
    picked = [c.num_workers for c in close_to_best(trials, {t.key: t.config for t in trials}, most=2)]
    assert picked == [2, 3]


def _screened_race(table: dict[str, list[float]], screens: list, configs: list[LoaderConfig]):
    """A race after screens: the n-th trial of a configuration, screens included, reads table[key][n]."""
    rec = FakeRecorder(1.0, table)
    rec.trials = [replace(t, role="screen") for t in screens]
    reserve = {t.key: t.config for t in screens}
    return race(rec, configs, MeasureSettings(), max_rounds=4, reserve=reserve)  # type: ignore[arg-type]


def test_a_configuration_the_high_screen_left_out_joins_when_the_race_reads_lower() -> None:
    # the bursty case: 32 workers screened at 750 and 720, so 24 workers' 578 lay out of reach; the race then
    # read both 32s near 600, where 578 is within reach. 24 joins from the second round, and leads
    screens = [trial(32, 750.0, pf=4), trial(32, 720.0, pf=2), trial(24, 578.0, pf=4), trial(16, 450.0, pf=4)]
    a, b, c, d = (t.config for t in screens)
    table = {
        a.key(): [750.0, 600.0, 598.0, 602.0, 600.0],
        b.key(): [720.0, 607.0, 605.0, 606.0, 604.0],
        c.key(): [578.0, 690.0, 688.0, 692.0],
        d.key(): [450.0],
    }
    result = _screened_race(table, screens, [a, b])
    assert result.joined == (c.key(),)  # 16 workers (450) is out of reach of the race's reading too
    assert result.winner == c.key()
    assert len(result.rates[c.key()]) == result.rounds - 1
    # a race that reads its candidates where they screened leaves the reach as it was: nothing joins
    table[a.key()][1:] = [745.0, 748.0, 752.0, 750.0]
    table[b.key()][1:] = [722.0, 718.0, 721.0, 719.0]
    result = _screened_race(table, screens, [a, b])
    assert result.joined == () and result.winner == a.key()
    assert c.key() not in result.rates
    # nor one that reads them a trial's noise lower (24 workers' screen would lie just within reach of it)
    table[a.key()][1:] = [730.0, 732.0, 728.0, 730.0]
    table[b.key()][1:] = [700.0, 702.0, 699.0, 701.0]
    screens[2] = trial(24, 695.0, pf=4)
    table[c.key()][0] = 695.0
    result = _screened_race(table, screens, [a, b])
    assert result.joined == ()
