"""Throughput intervals over a window of batches, cheap enough to check after every batch (pure).

No numpy, no scipy: this runs inside the measuring process, where every import and every
millisecond shows in the figures.

With W workers batches arrive in bursts of W (one round: worker i delivers batch i, i + W, ...).
A segment that cuts a round in two reads high or low by where the cut falls, so segments here
span whole rounds; a window's interval is the Student-t interval of the mean of its segment rates
(batch means). A window keeps growing until that interval is narrow enough to rank
configurations (``MeasureSettings.precision``) or its time cap: measured to a precision, not for a time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)
"""Two-sided 95% Student-t quantiles for 1..10 degrees of freedom (tables)."""


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (exact to 3 decimals up to 10,
    within 0.2% above: 1.96 + 2.4 / df)."""
    if df < 1:
        return math.inf
    return _T975[df - 1] if df <= len(_T975) else 1.96 + 2.4 / df


def segment_bounds(n: int, segments: int, round_size: int = 1) -> list[int]:
    """Cut ``n`` batches into at most ``segments`` contiguous groups of whole rounds of ``round_size``
    batches (fewer groups when there are fewer rounds); a remainder of less than a round joins the last."""
    rounds = n // max(1, round_size)
    if rounds < 1:
        return [0, n] if n else [0]
    k = max(1, min(segments, rounds))
    bounds = [round(i * rounds / k) * round_size for i in range(k)]
    return [*bounds, n]


def segment_rates(
    samples: Sequence[int], intervals: Sequence[float], segments: int, min_size: int = 1
) -> list[float]:
    """Samples/s of each segment (see ``segment_bounds``; ``min_size`` is the round: the worker count)."""
    bounds = segment_bounds(len(samples), segments, min_size)
    rates = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        t = float(sum(intervals[a:b]))
        if b > a and t > 0:
            rates.append(float(sum(samples[a:b])) / t)
    return rates


def rel_half_width(rates: Sequence[float]) -> float:
    """Half-width of the 95% interval of the mean of ``rates``, relative to that mean (inf under 2)."""
    k = len(rates)
    if k < 2:
        return math.inf
    mean = sum(rates) / k
    if mean <= 0:
        return math.inf
    sd = math.sqrt(sum((r - mean) ** 2 for r in rates) / (k - 1))
    return t975(k - 1) * sd / math.sqrt(k) / mean


class RunningWindow:
    """Prefix sums of a growing window, so its interval costs O(segments) to check, not O(batches)."""

    def __init__(self) -> None:
        self.cum_samples: list[int] = [0]
        self.cum_time: list[float] = [0.0]

    def add(self, samples: int, interval_s: float) -> None:
        self.cum_samples.append(self.cum_samples[-1] + samples)
        self.cum_time.append(self.cum_time[-1] + interval_s)

    def __len__(self) -> int:
        return len(self.cum_samples) - 1

    def rates(self, segments: int, round_size: int = 1) -> list[float]:
        bounds = segment_bounds(len(self), segments, round_size)
        out = []
        for a, b in zip(bounds, bounds[1:], strict=False):
            t = self.cum_time[b] - self.cum_time[a]
            if b > a and t > 0:
                out.append((self.cum_samples[b] - self.cum_samples[a]) / t)
        return out

    def rel_half_width(self, segments: int, round_size: int = 1) -> float:
        return rel_half_width(self.rates(segments, round_size))

    def rate(self) -> float:
        """samples/s over the whole window."""
        t = self.cum_time[-1]
        return self.cum_samples[-1] / t if t > 0 else 0.0
