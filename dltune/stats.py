"""Statistics over raw timings, in one pure module (no torch).

scipy is used where hand-written code would be worse: Student's t quantiles for small-sample
confidence intervals and the exact Mann-Whitney U test for the regression check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    median: float
    sd: float
    cv: float
    """Coefficient of variation, sd / mean (0 when n < 2)."""
    ci_low: float
    ci_high: float
    """Confidence interval of the mean (Student's t), at ``level``."""
    level: float = 0.95

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2

    @property
    def rel_half_width(self) -> float:
        return self.half_width / self.mean if self.mean else math.inf


def summarize(values: Sequence[float], level: float = 0.95) -> Summary:
    """Mean, median, spread and a t confidence interval of the mean."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        raise ValueError("no values to summarize")
    mean, median = float(x.mean()), float(np.median(x))
    if n < 2:
        return Summary(n, mean, median, 0.0, 0.0, mean, mean, level)
    sd = float(x.std(ddof=1))
    half = float(sps.t.ppf((1 + level) / 2, n - 1)) * sd / math.sqrt(n)
    return Summary(n, mean, median, sd, sd / mean if mean else 0.0, mean - half, mean + half, level)


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 90, 99)) -> list[float]:
    if not len(values):
        return [math.nan for _ in qs]
    return [float(v) for v in np.percentile(np.asarray(values, dtype=float), qs)]


@dataclass(frozen=True)
class Comparison:
    """Candidate vs baseline throughput (higher is better)."""

    ratio: float
    """median(candidate) / median(baseline)."""
    ratio_low: float
    ratio_high: float
    """Bootstrap 95% interval of the ratio of medians."""
    p_slower: float
    """One-sided Mann-Whitney U p-value for 'candidate is slower than baseline'."""
    noise: float
    """Relative spread: the larger coefficient of variation of the two samples."""
    n_baseline: int
    n_candidate: int


def compare(
    baseline: Sequence[float], candidate: Sequence[float], seed: int = 0, boot: int = 4000
) -> Comparison:
    """Compare two samples of throughputs (e.g. ABBA rounds). Deterministic for a seed."""
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(candidate, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("need at least two measurements on each side")
    ratio = float(np.median(b) / np.median(a))
    rng = np.random.default_rng(seed)
    ra = np.median(rng.choice(a, (boot, len(a))), axis=1)
    rb = np.median(rng.choice(b, (boot, len(b))), axis=1)
    lo, hi = (float(v) for v in np.percentile(rb / ra, [2.5, 97.5]))
    p = float(sps.mannwhitneyu(b, a, alternative="less").pvalue)
    noise = max(float(a.std(ddof=1) / a.mean()), float(b.std(ddof=1) / b.mean()))
    return Comparison(ratio, lo, hi, p, noise, len(a), len(b))


def compare_paired(baseline: Sequence[float], candidate: Sequence[float]) -> Comparison:
    """Compare paired measurements (ABBA rounds: pair i was measured side by side).

    Works on log ratios, so slow drift of the machine cancels within each pair. The ratio is the
    geometric mean of the pair ratios with a Student-t 95% interval (a bootstrap interval of a median
    over 8 pairs jumps between order statistics and is far wider than the data warrant); the p-value
    is a one-sided Wilcoxon signed-rank test of 'candidate slower', which one outlier pair cannot swing.
    """
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(candidate, dtype=float)
    if len(a) != len(b) or len(a) < 2:
        raise ValueError("need at least two pairs of measurements")
    logs = np.log(b / a)
    n = len(logs)
    mean, sd = float(logs.mean()), float(logs.std(ddof=1))
    half = float(sps.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    p = float(sps.wilcoxon(logs, alternative="less").pvalue) if np.any(logs != 0) else 1.0
    return Comparison(math.exp(mean), math.exp(mean - half), math.exp(mean + half), p, sd, n, n)
