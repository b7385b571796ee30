"""Where to measure next along the worker axis (pure): climb past the edge, then narrow the peak.

Given the throughput measured at some worker counts (one batch size, one prefetch depth), the next
count to measure is:
1. **up**, when the best is the largest count measured and still rising (more than ``RISING``) against
   every count measured in the last doubling below it (``_last_step``): a best on the edge of the measured
   space means the space is too small.
   Upward steps come from ``ladder`` (doubling when the axis is open-ended), never past the ceiling.
2. **down**, when the best is the smallest count measured above 0 and a smaller one is allowed (on an
   open axis the largest at least ``GAP`` x smaller).
3. **knee**, when far fewer workers (1/GAP or less) than the fewest measured within ``KNEE`` of the
   best could match it: throughput rises at most along the line through the two measured points
   below (or one worker's rate from zero), so where that line reaches the best is the fewest that
   could. A plateau that starts early (the main process or the CPU binds sooner than the model
   said) is then found from below, at a fraction of the workers and memory.
4. **between**, when the best and a neighbour are far apart (more than ``GAP`` x) and the curve could
   rise between them by more than ``GAIN`` (it is taken to be concave: it rises, flattens, falls):
   the point between them, the better neighbour's side first. A chord extended further than its own
   length is taken with its points ``READ`` off: two close, noisy points extended far can bound the
   curve far lower than it lies.
A count whose concave bound lies below ``floor`` (the best rate measured off this axis, such as the
main process alone) cannot change the answer either, whichever step would measure it.
None when nothing is left that could change the answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from dltune.race import PRIOR_SD

RISING = 0.03
"""A step up that gains less than this is flat: the climb stops there."""


def _last_step(rates: Mapping[int, float], below: Sequence[int], best: int) -> float:
    """What the best must beat to count as still rising: the fastest measured count in the last doubling
    below it (at least its nearest neighbour). A point measured between two rungs (1.4x apart) sits too close
    for its noise to tell a rise from a plateau: measured on the latency case, 32, 45 and 64 workers read
    6,380, 6,323 and 6,524 samples/s; 64 beat 45 by 3.2%, so the climb went on to 128 and 91 workers (27 s
    of trials, both slower), while over the whole doubling from 32 it had gained 2.3%."""
    return max(rates[w] for w in below if w == below[-1] or 2 * w >= best)


GAP = 1.3
"""Neighbours closer than this factor are not worth a point between them."""


def _between(low: int, high: int, allowed: Sequence[int] | None) -> int | None:
    """The count geometrically halfway between ``low`` and ``high`` (from ``allowed`` when given)."""
    if high - low < 2:
        return None
    target = (max(low, 0.5) * high) ** 0.5
    if allowed is not None:
        inside = [w for w in allowed if low < w < high]
        return min(inside, key=lambda w: abs(w - target)) if inside else None
    return min(max(round(target), low + 1), high - 1)


def next_workers(
    rates: Mapping[int, float],
    up: Sequence[int],
    *,
    allowed: Sequence[int] | None = None,
    ceiling: int | None = None,
    refine: bool = True,
    floor: float = 0.0,
) -> tuple[int, str] | None:
    """The next worker count to measure and why ('up', 'down', 'knee' or 'between'), or None.

    ``rates``: samples/s by worker count (counts above 0). ``up``: the counts the climb may try, in
    order. ``allowed``: when the user listed the counts, only those are measured (``up`` too);
    None leaves the axis open. ``ceiling``: the most workers any step may use. ``refine=False``: only
    up and down (no knee, no between). ``floor``: what a count must be able to reach to be worth a trial
    (measured on the text example: the main process read 41,396 samples/s and the climb, at 31,284 with 8
    workers, still screened 11, which the chord through 4 and 8 bounded at 33,234)."""
    measured = sorted(w for w in rates if w > 0)
    if not measured:
        return None
    cap = ceiling if ceiling is not None else max([*up, *measured])
    best = max(measured, key=lambda w: rates[w])

    def worth(x: int) -> bool:
        return floor <= 0 or _ceiling_at(x, rates, measured) >= floor

    below = [w for w in measured if w < best]
    above = [w for w in measured if w > best]
    if not above:
        rising = not below or rates[best] > _last_step(rates, below, best) * (1 + RISING)
        nxt = next((w for w in up if w > best and w <= cap and w not in rates), None)
        # the bound at the highest count the climb may reach: a rung below the floor may lead to one above
        top = max((w for w in up if w > best and w <= cap), default=None)
        if rising and nxt is not None and (allowed is None or nxt in allowed) and top and worth(top):
            return nxt, "up"
    if not below:
        # a listed axis steps to the next listed count; an open one by at least GAP (31 against 32
        # workers could not rank, and costs a trial as dear as 24's)
        pool = allowed if allowed is not None else range(1, max(2, math.floor(best / GAP) + 1))
        lower = [w for w in pool if 0 < w < best and w not in rates]
        if lower and worth(min(lower)):  # the same: the fewest may lie above the floor
            return max(lower), "down"
    if not refine:
        return None
    knee = _knee(rates, measured, best, allowed)
    if knee is not None and worth(knee):
        return knee, "knee"
    lo = below[-1] if below else None
    hi = above[0] if above else None
    # the better neighbour's side first: the peak leans towards it
    sides = sorted(
        [(rates[n], a, b) for n, a, b in ((lo, lo, best), (hi, best, hi)) if n is not None],
        reverse=True,
    )
    for _, a, b in sides:
        if a is None or b is None or b < GAP * max(a, 1):
            continue
        mid = _between(a, b, allowed)
        if mid is None or mid in rates or mid > cap:
            continue
        if _ceiling_at(mid, rates, measured) >= max(rates[best] * (1 + GAIN), floor):
            return mid, "between"
    return None


GAIN = 0.05
"""A point between two measured counts is measured only when it could beat the best by this much."""
KNEE = 0.05
"""Counts within this of the best deliver it, for the knee step: it looks below the fewest of them."""
READ = PRIOR_SD
"""How far one screen may read off its configuration's rate, either way, when bounding the curve between
measured counts (the spread of one short trial, dltune.race). Without it a chord through two close, noisy
points ruled out the whole stretch below them (measured on the bursty case: 64 and 74 workers read 551 and
535 samples/s with intervals wider than the rates; their chord, extended to 29 workers, bounded it at 607
against 13 workers' 608, so nothing between 13 and 64 was measured, while side by side 24 workers beat 32 by
12%)."""


def _knee(
    rates: Mapping[int, float], measured: Sequence[int], best: int, allowed: Sequence[int] | None
) -> int | None:
    """Where the rising line through the two measured counts below the fewest that deliver within
    ``KNEE`` of the best reaches the best: the fewest workers that could match it. Only when that
    saves a factor GAP or more, and no measured count lies already within GAP below it (one look down
    per plateau: the between step narrows it further when that could gain)."""
    target = rates[best]
    good = min(w for w in measured if rates[w] >= target * (1 - KNEE))
    left = [(0, 0.0)] + [(w, rates[w]) for w in measured if w < good]
    if len(left) < 2 or left[-1][1] <= left[-2][1]:
        return None
    (x0, y0), (x1, y1) = left[-2], left[-1]
    k = math.ceil(x1 + (target - y1) * (x1 - x0) / (y1 - y0) - 1e-9)
    if allowed is not None:
        k = min((w for w in allowed if k <= w < good), default=good)
    if k in rates or k * GAP > good or x1 * GAP > k:
        return None
    return k


def _line(x: float, p: tuple[int, float], q: tuple[int, float]) -> float:
    return p[1] + (q[1] - p[1]) * (x - p[0]) / (q[0] - p[0])


def _chord_at(x: int, near: tuple[int, float], far: tuple[int, float], read: float) -> float:
    """The chord through two measured points, extended to ``x`` beyond ``near``. Extended further than its own
    length, it multiplies the points' noise (a slope from two close points is mostly noise): each point is
    then taken ``read`` off in the direction that steepens the chord towards ``x``. A shorter extension keeps
    the chord as measured: an allowance there too would split every plateau down to ``GAP`` (on the model
    plateau of tests/test_search.py, 7 trials instead of 5)."""
    if abs(x - near[0]) <= abs(near[0] - far[0]):
        return _line(x, near, far)
    return _line(x, (near[0], near[1] * (1 + read)), (far[0], far[1] * (1 - read)))


def _ceiling_at(x: int, rates: Mapping[int, float], measured: Sequence[int], read: float = READ) -> float:
    """The most throughput can be at ``x`` if it is concave in the worker count (it rises, flattens,
    falls: never rises faster after a slower stretch): below every chord through two measured points
    on the same side of ``x``, extended to it (``_chord_at``: the measurements are noisy, the curve is not)."""
    # no worker processes deliver nothing: (0, 0) anchors the rising side
    left = [(0, 0.0)] + [(w, rates[w]) for w in measured if w < x]
    right = [(w, rates[w]) for w in measured if w > x]
    bound = float("inf")
    if len(left) >= 2:
        bound = min(bound, _chord_at(x, left[-1], left[-2], read))
    if len(right) >= 2:
        bound = min(bound, _chord_at(x, right[0], right[1], read))
    return bound
