"""Racing candidate configurations: measure the survivors again, drop the clearly slower (pure).

Each candidate has one or more throughput measurements (one per short trial). Noise is judged on
the log scale, where a measurement's spread is a fraction of its rate, from the spread of repeated
configurations pooled over all of them (a few repeats of each give many degrees of freedom
together); before enough repeats exist a prior is used, what short trials show on a noisy 2-core
machine. A candidate is dropped when the best one's mean is above its own by more than ``z``
standard errors of the difference.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

PRIOR_SD = 0.06
"""Spread (log scale) of one short trial before repeats say more: 4-10% on a shared 2-core VM (race trials,
benchmarks/race_windows.py: latency 4-5%, bursty 5.5-7%, image 9-11%)."""
MIN_SD = 0.02
"""Noise is never taken to be below this, however quiet a few repeats looked."""
PRIOR_DF = 2
"""What the prior is worth, in degrees of freedom, against the repeats' own spread: the two are pooled. A
spread from a few repeats is itself uncertain (from 3 degrees of freedom, a true 5% reads under 2.5% one time
in seven), and a race that believed such a low reading stopped early and chose wrongly (measured on the
latency case: w24, w32 and w64 within 4% in two rounds, 2.4% apart within pairs; w32 leads w24 by 9% over
eight rounds). Worth only two, so that on a quiet machine a race's own repeats soon outweigh it (simulated
in benchmarks/race_choices.py, weights 2, 4 and 8 choose alike)."""


def _logs(values: Sequence[float]) -> list[float]:
    return [math.log(v) for v in values if v > 0]


def mean_log(values: Sequence[float]) -> float:
    logs = _logs(values)
    return sum(logs) / len(logs) if logs else -math.inf


def geo_mean(values: Sequence[float]) -> float:
    """Geometric mean of the positive values (the typical rate of repeats); 0 when there are none."""
    m = mean_log(values)
    return math.exp(m) if m > -math.inf else 0.0


def noise_sd(rates: Mapping[str, Sequence[float]]) -> float:
    """Pooled within-configuration standard deviation of log throughput, the prior counted as PRIOR_DF
    degrees of freedom of its own."""
    ss, df = 0.0, 0
    for values in rates.values():
        logs = _logs(values)
        if len(logs) >= 2:
            m = sum(logs) / len(logs)
            ss += sum((x - m) ** 2 for x in logs)
            df += len(logs) - 1
    return max(MIN_SD, math.sqrt((PRIOR_DF * PRIOR_SD**2 + ss) / (PRIOR_DF + df)))


def _gaps(rates: Mapping[str, Sequence[float]], keys: Sequence[str]) -> list[tuple[str, float, float]]:
    """(key, how far below the best its mean lies, standard error of that gap), best first (gap 0)."""
    ranked = sorted((k for k in keys if _logs(rates.get(k, ()))), key=lambda k: -mean_log(rates[k]))
    if not ranked:
        return []
    best, sd = ranked[0], noise_sd(rates)
    nb, top = len(_logs(rates[best])), mean_log(rates[best])
    return [(k, top - mean_log(rates[k]), sd * math.sqrt(1 / nb + 1 / len(_logs(rates[k])))) for k in ranked]


def survivors(rates: Mapping[str, Sequence[float]], keys: Sequence[str], z: float = 2.0) -> list[str]:
    """The keys not clearly slower than the best (best first, then by mean)."""
    gaps = _gaps(rates, keys)
    return [k for i, (k, gap, se) in enumerate(gaps) if i == 0 or gap <= z * se]


SLOW_SPELL = 0.43
"""How far (log scale) one short trial can read low when a slow spell of the shared machine lands on it:
a core's speed drops to 0.65x for a second or two at a time (measured on the 2-core development VM)."""


def out_of_reach(rates: Mapping[str, Sequence[float]], keys: Sequence[str], z: float = 2.0) -> list[str]:
    """The keys still in the race after a single round: those whose gap to the leader one slow spell plus
    ``z`` standard errors of the prior noise could explain (best first). A gap beyond that (measured: the
    text example's main process read 19,200 samples/s against 10,400 with 8 workers, side by side) is no
    noise a second round needs to rule out."""
    reach = SLOW_SPELL + z * PRIOR_SD * math.sqrt(2)
    top = max((mean_log(rates[k]) for k in keys), default=-math.inf)
    return [k for k in sorted(keys, key=lambda k: -mean_log(rates[k])) if top - mean_log(rates[k]) <= reach]


EQUIVALENT = 0.04
"""Survivors that can be shown to be at most this much (log scale, ~4%) slower than the best are
interchangeable: racing them further would not change the answer by more than noise."""


def settled(
    rates: Mapping[str, Sequence[float]], keys: Sequence[str], z: float = 2.0, within: float = EQUIVALENT
) -> bool:
    """One key left, or every other one's worst plausible deficit against the best is ``within``."""
    if len(keys) <= 1:
        return True
    return all(gap + z * se <= within for _, gap, se in _gaps(rates, keys)[1:])


RANKED = 0.03
"""The race has ranked its candidates when none of the others could plausibly beat the leader by more
than this (log scale, ~3%): choosing the leader then costs at most that, the repeatability the tuning
benchmark asks of a choice."""


def ranked(
    rates: Mapping[str, Sequence[float]], keys: Sequence[str], z: float = 2.0, within: float = RANKED
) -> bool:
    """Settled, or every other key's best plausible advantage over the leader is ``within``."""
    return settled(rates, keys, z) or all(z * se - gap <= within for _, gap, se in _gaps(rates, keys)[1:])


LOSS = 0.01
"""A race may stop once choosing its leader now is expected to cost less than this (log scale, ~1%)
against the best of its survivors: candidates that close are interchangeable for the user, and ranking
them would take rounds that cost more than the choice could gain (two configurations 1% apart, each trial
5% noisy, need about 30 rounds to be ranked). The report then keeps the leader unless the race shows a
cheaper survivor likely within 3% (dltune.recommend). Simulated at 2%, with the prior and with the report's
old tie for undecided races, tunes of two candidates 9% apart gave up more than 5% one time in eight; with
the three changes, 3.5% (benchmarks/race_choices.py)."""


def _normal_pdf(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _normal_cdf(x: float) -> float:
    return (1 + math.erf(x / math.sqrt(2))) / 2


def expected_loss(rates: Mapping[str, Sequence[float]], keys: Sequence[str]) -> float:
    """What choosing the leader now is expected to give up (log scale) against the others: for each, the
    expected positive part of its advantage, a normal with mean ``-gap`` and the gap's standard error,
    summed over the others (an upper bound on the loss against the best of them)."""
    loss = 0.0
    for _, gap, se in _gaps(rates, keys)[1:]:
        if se <= 0:
            continue
        z = gap / se
        loss += se * _normal_pdf(z) - gap * (1 - _normal_cdf(z))
    return loss


CLOSE = 0.06
"""Candidates whose single measurements lie within this of the best (or within their intervals) are
close enough that only a side-by-side race can rank them: windows measured minutes apart drift by
a few percent on a shared machine, whatever their own intervals say."""


CHEAPEST_CLOSE = 2 * CLOSE
"""The cheapest configuration within this of the best is raced too (dltune.bench.confirm.close_to_best): one
short screen can read far lower than the same configuration's next (measured on the latency case: 32 workers
read 4,469 and 5,108 samples/s in two tunes' screens, 13% apart; the image case's race trials of 4 workers
500 and 618), and a cheap configuration left out on one low reading is lost to the report's tie rule."""


def reach(top_hw: float, hw: float, close: float = CLOSE) -> float:
    """How far (a fraction) below the best a single measurement may lie and still be raced: ``close``, or the
    two relative half-widths together when they are wider."""
    return max(close, top_hw + hw)


def contenders(
    measured: Sequence[tuple[str, float, float]],
    most: int = 3,
    close: float = CLOSE,
    groups: Mapping[str, Hashable | None] | None = None,
) -> list[str]:
    """The keys worth racing: ``measured`` holds (key, samples/s, relative half-width of its interval);
    the best and those within ``close`` (or the two intervals) of it, fastest first, at most ``most``.

    ``groups`` (key -> a value chosen from one screen each, such as the prefetch depth) makes the picks
    diverse: the best of every other group within reach comes before a second of the best's own group. A
    tune screens each prefetch depth once, at the leader's worker count, and climbs again only where one
    leads by more than ``CLOSE``; without this, a depth that screened a few percent behind never came back
    when the leader's own worker neighbours filled the race (measured on the bursty case: prefetch 4
    screened 5% behind 2 at 32 workers, and the race held only prefetch-2 configurations, while side by side
    prefetch 4 led by 9%)."""
    ranked = sorted((m for m in measured if m[1] > 0), key=lambda m: -m[1])
    if not ranked:
        return []
    _, top, top_hw = ranked[0]
    rate = {k: r for k, r, _ in ranked}
    out = [k for k, r, hw in ranked if r >= top * (1 - reach(top_hw, hw, close))]
    if groups:
        # the fastest of each group (a key whose group is None belongs to none: it competes on rate only)
        firsts = list({groups[k]: k for k in reversed(out) if groups.get(k) is not None}.values())
        out = sorted(firsts, key=lambda k: -rate[k]) + [k for k in out if k not in firsts]
    return sorted(out[:most], key=lambda k: -rate[k])
