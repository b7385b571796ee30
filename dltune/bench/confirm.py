"""Settle close candidates side by side: measure them again, interleaved, and drop the clearly slower.

Used after a sweep (``dltune bench``) and at the end of tuning. Each round measures every surviving
candidate once, in an order that rotates from round to round (no candidate always goes first); after
``min_rounds`` the candidates clearly slower than the best on the race's own measurements are
dropped (dltune.race; after the first round already those further behind than one slow spell of the
machine could put them), and the race ends when it is decided (one is left, the rest are provably within
a few percent, or none of them could beat the leader by more than 3%), when the survivors are so close that
choosing the leader now is expected to cost under 1% (``close``), when another round would take
the race past its time budget, or after ``max_rounds``. Rounds therefore go on while the candidates are
too close to rank and rounds are cheap against the search that found them, and stop after the minimum
where each trial is expensive. Only race trials (role ``race``) decide: measurements taken minutes apart
are not compared with each other.

A race trial's window ends at a looser precision than a screen's (``RACE_PRECISION``, 8% where screens ask
4%): the race ranks from its repeats, whose spread it pools, and a more precise window does not make repeats
agree better. Measured side by side (``benchmarks/race_windows.py``, trials interleaved, each row's spread
pooled over two configurations; the price of a given certainty is spread squared x seconds):
- image example, 8 rounds: 4% windows 7.5 s a trial, repeats spread 10.7%; 8%: 5.8 s, 9.2% (price 0.58);
  no target at all (the minimums end the window): 3.1 s, 10.6% (price 0.41);
- latency case, 6 rounds: 4%: 10.5 s, 8.6%; no target: 7.6 s, 8.2% (price 0.65);
- bursty case, 4 rounds: 4%: 32.8 s, 5.5%; no target: 20.2 s, 7.0% (price 0.99), and 32 workers read 1.12x
  of 14 against 1.03x with 4% windows: three rounds of bursts are too few to rank, as a steady window showed
  before (``benchmarks/trial_vs_steady.py``). At 8% a bursty window still runs to its cap (21-23 s, as at 4%),
  so no target at all is not used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from dltune.bench.recorder import Recorder
from dltune.model import RACE, RaceRecord, TrialResult
from dltune.model.loader import LoaderConfig
from dltune.model.settings import MeasureSettings
from dltune.race import (
    CHEAPEST_CLOSE,
    CLOSE,
    LOSS,
    contenders,
    expected_loss,
    geo_mean,
    mean_log,
    out_of_reach,
    ranked,
    reach,
    survivors,
)


def rel_hw(t: TrialResult) -> float:
    m = t.metrics
    if m is None or not m.samples_per_s:
        return 1.0
    return (m.samples_per_s_high - m.samples_per_s) / m.samples_per_s


def _group(cfg: LoaderConfig) -> tuple[int | None, int | None] | None:
    """What tuning screens once per value (batch size, prefetch depth), unlike the worker count it climbs; the
    main process has no prefetch depth and belongs to no group (it is one more point of the worker axis)."""
    return (cfg.batch_size, cfg.prefetch_factor) if cfg.num_workers else None


def _screens(trials: Sequence[TrialResult], allowed: Mapping[str, LoaderConfig]) -> dict[str, TrialResult]:
    """The fastest successful trial of each configuration in ``allowed``, race trials left out."""
    best: dict[str, TrialResult] = {}
    for t in trials:
        if not (t.ok and t.metrics and t.key in allowed) or t.role == RACE:
            continue
        held = best.get(t.key)
        if held is None or (held.metrics and t.metrics.samples_per_s > held.metrics.samples_per_s):
            best[t.key] = t
    return best


def close_to_best(
    trials: Sequence[TrialResult], allowed: dict[str, LoaderConfig], most: int = 3
) -> list[LoaderConfig]:
    """The measured configurations (among ``allowed``) too close to the best to rank from separate trials:
    the ``most`` fastest (the best of another batch size or prefetch depth within reach before a second of
    the best's own), and the cheapest within ``CHEAPEST_CLOSE`` of the best (fewest workers, then least
    prefetch), the one the report prefers among ties, so that it is chosen only where the race shows it keeps
    up, and not lost on one low screen."""
    best = _screens(trials, allowed)
    measured = [(k, t.metrics.samples_per_s, rel_hw(t)) for k, t in best.items() if t.metrics]
    # the best of each batch size and prefetch depth within reach first: each was chosen from one screen
    picked = contenders(measured, most=most, groups={k: _group(allowed[k]) for k, _, _ in measured})
    # the cheapest within CHEAPEST_CLOSE by rate (not by overlapping intervals: a wide one overlaps almost anything)
    top = max((rate for _, rate, _ in measured), default=0.0)
    near = [k for k, rate, _ in measured if rate > 0 and rate >= top * (1 - CHEAPEST_CLOSE)]

    def cost(k: str) -> tuple[int, int]:
        return allowed[k].num_workers, allowed[k].prefetch_factor or 0

    cheapest = min(near, key=cost, default=None)
    # only when it is cheaper than every one already raced (a same-cost neighbour adds a trial, no choice)
    if len(picked) > 1 and cheapest is not None and cost(cheapest) < min(map(cost, picked)):
        picked.append(cheapest)
    return [allowed[k] for k in picked]


def latecomer(
    trials: Sequence[TrialResult], allowed: Mapping[str, LoaderConfig], rates: Mapping[str, Sequence[float]]
) -> LoaderConfig | None:
    """The configuration the screens left out of the race that its first round brings into reach, if any.

    The race's candidates were those within reach (``CLOSE``, or the two intervals) of the fastest screen. When
    the race reads its best more than ``CLOSE`` below that screen, the screen was high, and the reach it set was
    too short: a configuration that screened within reach of what the race read, but not of that screen, joins the
    race (the fastest such one, by screen). Measured on the bursty case: 32 workers screened at 750 samples/s
    and its race trials read 593-604; 24 workers (578 by screen) was out of reach and never raced, while side
    by side it led 32 by 12%. Configurations the race left out for its size (within reach all along) stay out:
    that choice was made on the screens alone, not on a reading that changed."""
    screens = _screens(trials, allowed)
    raced = [k for k in rates if any(r > 0 for r in rates[k])]
    if not raced or not screens:
        return None
    top = max(screens.values(), key=lambda t: t.rate)
    read = max(geo_mean(rates[k]) for k in raced)  # the race's own reading of its best
    if read >= top.rate * (1 - CLOSE):
        return None  # the screen read where the race did, give or take a trial's noise: the reach stands
    out = [
        t
        for k, t in screens.items()
        if k not in rates
        and t.rate < top.rate * (1 - reach(rel_hw(top), rel_hw(t)))
        and t.rate >= read * (1 - reach(0.0, rel_hw(t)))
    ]
    return allowed[max(out, key=lambda t: t.rate).key] if out else None


RACE_PRECISION = 0.08
"""A race trial's window ends at this half-width (or looser, past its time cap): see the module's notes."""


def race_settings(settings: MeasureSettings) -> MeasureSettings:
    """A race trial's window: the same minimums (whole rounds, whole short epochs, the time cap), a looser
    precision target, and no leader to rank against."""
    loose = max(settings.precision, RACE_PRECISION) if settings.precision else 0.0
    return dataclasses.replace(settings, precision=loose, rank_against=0.0)


def _kept(alive: Sequence[str], kept: Sequence[str]) -> list[str]:
    """``alive`` less what was dropped, in its order: the rounds' rotation goes on where it was."""
    return [k for k in alive if k in kept]


def race(
    rec: Recorder,
    configs: Sequence[LoaderConfig],
    settings: MeasureSettings,
    *,
    min_rounds: int = 2,
    max_rounds: int = 3,
    budget_s: float | None = None,
    reserve: Mapping[str, LoaderConfig] | None = None,
) -> RaceRecord:
    """Race ``configs`` (at least two) and return what happened: candidates, rounds, rates, winner, why it
    stopped. ``budget_s``: trial seconds the race may spend in all; past ``min_rounds`` a round starts only
    when the survivors' trials, at their mean duration so far, fit in what is left. ``reserve``: the measured
    configurations one may join after the first round (``latecomer``), from the second on."""
    by_key = {c.key(): c for c in configs}
    settings = race_settings(settings)
    keys = list(by_key)
    rates: dict[str, list[float]] = {k: [] for k in keys}
    seconds: dict[str, list[float]] = {k: [] for k in keys}
    alive = list(keys)
    joined: list[str] = []
    rounds = 0
    ended = "rounds"
    for r in range(max_rounds):
        rounds = r + 1
        for k in alive[r % len(alive) :] + alive[: r % len(alive)]:
            t = rec.measure(by_key[k], settings, RACE)
            rates[k].append(t.rate)
            seconds[k].append(t.duration_s)
        failed = [k for k in alive if rates[k][-1] <= 0]
        alive = [k for k in alive if k not in failed] or alive[:1]
        if rounds == 1 and min_rounds > 1:
            alive = _kept(alive, out_of_reach(rates, alive))
            late = latecomer(rec.trials, reserve, rates) if reserve and max_rounds > 1 else None
            if late is not None:
                by_key[late.key()] = late
                keys.append(late.key())
                rates[late.key()], seconds[late.key()] = [], []
                alive.append(late.key())
                joined.append(late.key())
            if len(alive) == 1:
                ended = "decided"  # the rest lie further behind than any noise of one round reaches
                break
        if rounds >= min_rounds:
            alive = _kept(alive, survivors(rates, alive))  # a latecomer is judged on its own rounds
            if ranked(rates, alive):
                ended = "decided"
                break
            if expected_loss(rates, alive) <= LOSS:
                ended = "close"  # interchangeable: more rounds would cost more than the choice could gain
                break
            spent = sum(map(sum, seconds.values()))
            next_round = sum(sum(seconds[k]) / max(1, len(seconds[k])) for k in alive)
            if budget_s is not None and rounds < max_rounds and spent + next_round > budget_s:
                ended = "budget"
                break
    winner = max(alive, key=lambda k: mean_log(rates[k]))
    return RaceRecord(
        candidates=tuple(keys),
        rounds=rounds,
        rates={k: tuple(v) for k, v in rates.items()},
        alive=tuple(alive),
        winner=winner,
        ended=ended,
        joined=tuple(joined),
    )
