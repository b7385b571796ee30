"""Settle close candidates side by side: measure them again, interleaved, and drop the clearly slower.

Used after a sweep (``dltune bench``) and at the end of tuning. Each round measures every surviving
candidate once, in an order that rotates from round to round (no candidate always goes first); after
``min_rounds`` the candidates clearly slower than the best on the race's own measurements are
dropped (dltune.race; after the first round already those further behind than one slow spell of the
machine could put them), and the race ends when it is decided (one is left, the rest are provably within
a few percent, or none of them could beat the leader by more than 3%), when the survivors are so close that
choosing the leader now is expected to cost under 2% (``close``), when another round would take
the race past its time budget, or after ``max_rounds``. Rounds therefore go on while the candidates are
too close to rank and rounds are cheap against the search that found them, and stop after the minimum
where each trial is expensive. Only race trials (role ``race``) decide: measurements taken minutes apart
are not compared with each other.
"""

from __future__ import annotations

from collections.abc import Sequence

from dltune.bench.recorder import Recorder
from dltune.model import RACE, RaceRecord, TrialResult
from dltune.model.loader import LoaderConfig
from dltune.model.settings import MeasureSettings
from dltune.race import (
    CHEAPEST_CLOSE,
    LOSS,
    contenders,
    expected_loss,
    mean_log,
    out_of_reach,
    ranked,
    survivors,
)


def rel_hw(t: TrialResult) -> float:
    m = t.metrics
    if m is None or not m.samples_per_s:
        return 1.0
    return (m.samples_per_s_high - m.samples_per_s) / m.samples_per_s


def close_to_best(
    trials: Sequence[TrialResult], allowed: dict[str, LoaderConfig], most: int = 3
) -> list[LoaderConfig]:
    """The measured configurations (among ``allowed``) too close to the best to rank from separate trials:
    the ``most`` fastest, and the cheapest within ``CHEAPEST_CLOSE`` of the best (fewest workers, then least
    prefetch), the one the report prefers among ties, so that it is chosen only where the race shows it keeps
    up, and not lost on one low screen."""
    best: dict[str, TrialResult] = {}
    for t in trials:
        if not (t.ok and t.metrics and t.key in allowed):
            continue
        held = best.get(t.key)
        if held is None or (held.metrics and t.metrics.samples_per_s > held.metrics.samples_per_s):
            best[t.key] = t
    measured = [(k, t.metrics.samples_per_s, rel_hw(t)) for k, t in best.items() if t.metrics]
    picked = contenders(measured, most=most)
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
) -> RaceRecord:
    """Race ``configs`` (at least two) and return what happened: candidates, rounds, rates, winner, why it
    stopped. ``budget_s``: trial seconds the race may spend in all; past ``min_rounds`` a round starts only
    when the survivors' trials, at their mean duration so far, fit in what is left."""
    by_key = {c.key(): c for c in configs}
    keys = list(by_key)
    rates: dict[str, list[float]] = {k: [] for k in keys}
    seconds: dict[str, list[float]] = {k: [] for k in keys}
    alive = list(keys)
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
            if len(alive) == 1:
                ended = "decided"  # the rest lie further behind than any noise of one round reaches
                break
        if rounds >= min_rounds:
            alive = _kept(alive, survivors(rates, alive))
            if ranked(rates, alive):
                ended = "decided"
                break
            if expected_loss(rates, alive) <= LOSS:
                ended = "close"  # interchangeable: more rounds would cost more than the choice could gain
                break
            spent = sum(map(sum, seconds.values()))
            next_round = sum(sum(seconds[k]) / len(seconds[k]) for k in alive)
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
    )
