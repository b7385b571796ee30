"""From a run's results to the configuration to use, and why, in numbers (pure: no torch work, no I/O).

The choice: the highest steady-state throughput within the user's constraints; configurations within
measurement noise of the best (overlapping 95% intervals, and never more than ``TIE_CAP`` slower)
count as ties, and the cheapest of those wins (fewer workers, then less memory, then less prefetch).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from dltune.diagnose import diagnose
from dltune.errors import UsageError
from dltune.model import (
    OK,
    RACE,
    ConfigStat,
    Constraints,
    PredictionRow,
    RaceRecord,
    Recommendation,
    RunResult,
    ScalingPoint,
    TrialResult,
)
from dltune.node import node_plan
from dltune.race import noise_sd, settled
from dltune.stats import summarize
from dltune.units import human_bytes

TIE_CAP = 0.03
"""A tie is never more than 3% slower than the best, however noisy the measurements."""
RACE_Z = 1.96
"""A raced configuration's 95% interval: its mean's, this many standard errors of the race's noise."""


def pool(trials: Iterable[TrialResult], raced: Iterable[str] = ()) -> list[ConfigStat]:
    """Group successful trials by configuration; one repeat keeps its own interval, several pool theirs.

    The configurations in ``raced`` were measured again side by side: only those race trials count
    for them, so that they are ranked on measurements taken together, never minutes apart. Their
    interval is their mean's from the race's spread, pooled over every raced configuration as the race
    judges it (dltune.race): two trials alone give a t interval with one degree of freedom, ±148% of a
    mean whose trials lie 12% apart."""
    groups: dict[str, list[TrialResult]] = defaultdict(list)
    trials = list(trials)
    in_race = {t.key for t in trials if t.ok and t.role == RACE} & set(raced)
    for t in trials:
        if t.ok and (t.key not in in_race or t.role == RACE):
            groups[t.key].append(t)
    race_sd = noise_sd({k: [t.rate for t in groups[k]] for k in in_race})
    stats = []
    for key, ts in groups.items():
        ms = [t.metrics for t in ts if t.metrics]
        rates = [m.samples_per_s for m in ms]
        if len(rates) > 1 and key in in_race:
            rate = summarize(rates).mean
            half = RACE_Z * race_sd / math.sqrt(len(rates))
            low, high = rate * math.exp(-half), rate * math.exp(half)
        elif len(rates) > 1:
            s = summarize(rates)
            rate, low, high = s.mean, s.ci_low, s.ci_high
        else:
            rate, low, high = rates[0], ms[0].samples_per_s_low, ms[0].samples_per_s_high

        def mean(values: Sequence[float]) -> float:
            return sum(values) / len(values)

        stalls = [m.stall_fraction for m in ms if m.stall_fraction is not None]
        h2d = [m.h2d_ms_per_batch for m in ms if m.h2d_ms_per_batch is not None]
        fed = [m.fed_workers for m in ms if m.fed_workers is not None]
        stats.append(
            ConfigStat(
                key=key,
                config=ts[0].config,
                rate=rate,
                low=low,
                high=high,
                memory=max(m.peak_pss_total for m in ms),
                cpu_pct=mean([m.cpu_main_pct + m.cpu_workers_pct for m in ms]),
                main_cpu_pct=mean([m.cpu_main_pct for m in ms]),
                first_batch_s=mean([m.first_batch_s for m in ms]),
                wait_p99_ms=mean([m.wait_p99_ms for m in ms]),
                stall_fraction=mean(stalls) if stalls else None,
                h2d_ms=mean(h2d) if h2d else None,
                batch_bytes=mean([m.batch_bytes for m in ms]),
                repeats=len(ms),
                role=ts[0].role,
                fed_workers=max(fed) if fed else None,
            )
        )
    return sorted(stats, key=lambda s: -s.rate)


MEMORY_SLACK = 0.10
"""Memory figures within 10% (and 32 MiB) of the smallest are the same cost: measured peaks move that much
from trial to trial, and more when trials share an interpreter (tuning)."""


def cheapest(ties: Sequence[ConfigStat]) -> ConfigStat:
    """Fewest workers; then, among those, the least memory (within MEMORY_SLACK); then the least
    prefetch; then the fastest."""
    fewest = min(s.workers for s in ties)
    pool = [s for s in ties if s.workers == fewest]
    lightest = min(s.memory for s in pool)
    pool = [s for s in pool if s.memory <= lightest * (1 + MEMORY_SLACK) + (32 << 20)]
    return min(pool, key=lambda s: (s.config.prefetch_factor or 0, -s.rate))


def _race_winner(race: RaceRecord | None, candidates: Sequence[ConfigStat]) -> ConfigStat | None:
    """The race's winner, when the constraints leave it: the close candidates were settled side by side,
    and no trial of another configuration, taken minutes apart, outranks that (the race's candidates were
    the fastest of those trials; a reading above the winner's race trials is the machine's drift)."""
    return next((s for s in candidates if race and s.key == race.winner), None)


def _race_allows(race: RaceRecord | None, best: ConfigStat, other: ConfigStat) -> bool:
    """When ``best`` was raced, ``other`` ties with it only if it was raced too and the race shows its
    deficit is at most TIE_CAP plus one standard error: the cheaper of two raced configurations is chosen
    only when the race makes it likely (about 5 in 6) that it gives up at most 3%; otherwise the faster one
    is, however the race ended (noise is not a licence to give up throughput), and a configuration the race
    did not measure is no tie of its winner (only side-by-side trials settle close candidates).

    A race that stopped undecided (interchangeable, budget or rounds spent) used to leave survivors whose
    means lay within TIE_CAP tied, so that a repeat chose the same cheapest one. Two rounds of the latency
    case put w24 level with w32 and w64, which lead it by 9% over eight, and the tune chose w24 (0.906 of
    the best); simulated, that rule gave up more than 5% in 13% of tunes of a pair 9% apart, against 3.5%
    without it (benchmarks/race_choices.py)."""
    rates = race.rates if race else {}
    if other.key == best.key or best.key not in rates:
        return True
    if other.key not in rates:
        return False
    return settled(rates, [best.key, other.key], z=1.0, within=TIE_CAP)


def is_tie(best: ConfigStat, other: ConfigStat) -> bool:
    """``other`` is within measurement noise of ``best`` (intervals overlap, or within 1%), and never
    more than TIE_CAP slower: the one tie rule."""
    overlap = other.high >= best.low and best.high >= other.low
    return other.rate >= best.rate * (1 - TIE_CAP) and (overlap or other.rate >= best.rate * 0.99)


def _find(stats: Sequence[ConfigStat], **want: Any) -> ConfigStat | None:
    for s in stats:
        if all(getattr(s.config, k) == v for k, v in want.items()):
            return s
    return None


def _defaults(stats: Sequence[ConfigStat], bs: int | None) -> ConfigStat | None:
    return _find(stats, num_workers=0, batch_size=bs, pinning="off")


def _cores_rule(stats: Sequence[ConfigStat], bs: int | None, cores: int) -> ConfigStat | None:
    """num_workers = cores with DataLoader's other defaults (prefetch 2, no pinning, workers not persistent):
    the rule of thumb as usually applied. None when it was not measured: no comparison beats a wrong one."""
    return _find(
        stats, num_workers=cores, batch_size=bs, prefetch_factor=2, pinning="off", persistent_workers=False
    )


def scaling_curve(stats: Sequence[ConfigStat], chosen: ConfigStat, cores: int) -> list[ScalingPoint]:
    """Best rate per worker count at the chosen batch size, against the ideal min(w, cores) x 1-worker rate."""
    same = [
        s for s in stats if s.batch_size == chosen.batch_size and s.config.pinning == chosen.config.pinning
    ]
    by_w: dict[int, float] = {}
    for s in same:
        by_w[s.workers] = max(by_w.get(s.workers, 0.0), s.rate)
    one = by_w.get(1)
    # a worker that waits on storage keeps less than a core busy: the CPUs then carry cores / that many
    one_stat = next((s for s in same if s.workers == 1), None)
    per_worker = (one_stat.cpu_pct - one_stat.main_cpu_pct) / 100 if one_stat else 1.0
    fit = cores / per_worker if 0.02 < per_worker < 0.5 else cores  # clearly waiting, or CPU-bound
    return [
        ScalingPoint(w, r, (min(w, fit) * one) if one and w > 0 else None) for w, r in sorted(by_w.items())
    ]


def recommend(run: RunResult, constraints: Constraints = Constraints()) -> Recommendation:
    """Choose a configuration from a run's results. Raises UsageError when nothing qualifies."""
    race = run.search.race if run.search else None
    stats = pool(run.trials, race.candidates if race else ())
    if not stats:
        reasons = "; ".join(sorted({t.reason or t.status for t in run.trials}))[:500]
        raise UsageError(
            f"the run {run.name} has no successful trial to recommend from ({reasons or 'no trials'})",
            "fix the failures listed by `dltune bench`, then run it again",
        )
    cores = run.hardware.cpu.usable
    batch_sizes = {s.batch_size for s in stats}
    bs = constraints.batch_size
    if bs is None and len(batch_sizes) == 1:
        bs = next(iter(batch_sizes))
    excluded: list[str] = []
    candidates = []
    for s in stats:
        why = None
        if bs is not None and s.batch_size != bs:
            why = f"batch size {s.batch_size} (fixed to {bs})"
        elif constraints.max_workers is not None and s.workers > constraints.max_workers:
            why = f"{s.workers} workers > --max-workers {constraints.max_workers}"
        elif constraints.max_memory is not None and s.memory > constraints.max_memory:
            why = f"{human_bytes(s.memory)} > --max-memory {human_bytes(constraints.max_memory)}"
        if why:
            excluded.append(f"{s.key}: {why}")
        else:
            candidates.append(s)
    if not candidates:
        raise UsageError(
            "no measured configuration meets the constraints",
            "relax --max-memory / --max-workers, or bench the batch size you need",
        )
    best = _race_winner(race, candidates) or candidates[0]
    ties = [s for s in candidates if is_tie(best, s) and _race_allows(race, best, s)]
    chosen = cheapest(ties)
    ref_bs = chosen.batch_size
    defaults = _defaults(stats, ref_bs)
    cores_rule = _cores_rule(stats, ref_bs, cores)
    failures = [t for t in run.trials if t.status != OK]
    scaling = scaling_curve(stats, chosen, cores)
    step_ms = run.settings.step_ms
    keeps_up = None
    if step_ms and chosen.stall_fraction is not None:
        keeps_up = chosen.stall_fraction < 0.05
    cfg = chosen.config
    plan = node_plan(run, chosen, stats)
    return Recommendation(
        target=run.target,
        run=run.name,
        chosen=chosen,
        best=best,
        ties=[s.key for s in ties if s.key != chosen.key],
        loader=cfg.loader_kwargs(),
        code=(plan.rank_config if plan else cfg).to_code(
            from_file=run.preflight.from_file if run.preflight else ()
        ),
        defaults=defaults,
        cores_rule=cores_rule,
        speedup_vs_defaults=chosen.rate / defaults.rate if defaults and defaults.rate else None,
        speedup_vs_cores_rule=chosen.rate / cores_rule.rate if cores_rule and cores_rule.rate else None,
        bottleneck=diagnose(chosen, scaling, cores, run.preflight, failures, run.hardware),
        scaling=scaling,
        memory_per_worker=int(chosen.memory / chosen.workers) if chosen.workers else None,
        usable_cores=cores,
        step_ms=step_ms,
        keeps_up=keeps_up,
        excluded=excluded,
        failures=[f"{t.key}: {t.status}: {t.reason}" for t in failures],
        considered=len(candidates),
        ranked=stats,
        hardware=run.hardware,
        predictions=_predictions(run, stats),
        tuned=replace(run.tuning, predictions={}) if run.tuning else None,
        search=run.search,
        incomplete=not run.complete,
        node=plan,
    )


def _predictions(run: RunResult, stats: Sequence[ConfigStat]) -> list[PredictionRow]:
    preds = run.tuning.predictions if run.tuning else {}
    return [
        PredictionRow(s.key, p.predicted, s.rate, p.bound, p.predicted / s.rate - 1 if s.rate else None)
        for s in stats
        if (p := preds.get(s.key))
    ]
