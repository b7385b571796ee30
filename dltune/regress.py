"""Baseline vs current throughput -> a verdict with its statistics (pure).

- regression: the median drop exceeds the threshold AND the one-sided test says 'slower' (p < alpha);
- inconclusive: no such evidence, but the 95% interval of the ratio still reaches below
  1 - threshold, so a drop of that size cannot be ruled out with this much noise;
- speedup: faster beyond the threshold (reported, never failed);
- pass: a drop of threshold size is ruled out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from dltune.sequential import Look
from dltune.stats import Comparison, compare, compare_paired

PASS, REGRESSION, INCONCLUSIVE, SPEEDUP = "pass", "regression", "inconclusive", "speedup"
_SEVERITY = {REGRESSION: 3, INCONCLUSIVE: 2, PASS: 1, SPEEDUP: 0}


@dataclass(frozen=True)
class ConfigVerdict:
    key: str
    verdict: str
    reason: str
    baseline: list[float]
    candidate: list[float]
    comparison: Comparison | None


@dataclass(frozen=True)
class CheckResult:
    mode: str
    """'against' (same-job ABBA) or 'baseline' (stored figures)."""
    target: str
    threshold: float
    alpha: float
    verdicts: list[ConfigVerdict]
    notes: list[str] = field(default_factory=list)
    reference: str = ""

    @property
    def verdict(self) -> str:
        if not self.verdicts:
            return INCONCLUSIVE
        return max((v.verdict for v in self.verdicts), key=_SEVERITY.__getitem__)


def smallest_p(n_base: int, n_cand: int, paired: bool) -> float:
    """The smallest one-sided p-value the exact test can give with this many measurements."""
    return 0.5**n_cand if paired else 1 / math.comb(n_base + n_cand, n_cand)


def rounds_needed(alpha: float, paired: bool) -> int:
    n = 2
    while smallest_p(n, n, paired) >= alpha:
        n += 1
    return n


def judge(
    key: str,
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    threshold: float,
    alpha: float,
    paired: bool,
) -> ConfigVerdict:
    base, cand = list(baseline), list(candidate)
    if len(base) < 2 or len(cand) < 2:
        return ConfigVerdict(
            key, INCONCLUSIVE, "fewer than two measurements on a side: nothing to compare", base, cand, None
        )
    if smallest_p(len(base), len(cand), paired) >= alpha:
        need = rounds_needed(alpha, paired)
        return ConfigVerdict(
            key,
            INCONCLUSIVE,
            f"{len(cand)} measurements can never reach significance at alpha={alpha} "
            f"(smallest possible p = {smallest_p(len(base), len(cand), paired):.3f}); use --rounds {need} or more",
            base,
            cand,
            None,
        )
    c = compare_paired(base, cand) if paired else compare(base, cand)
    change = f"{c.ratio - 1:+.1%} (95% interval {c.ratio_low - 1:+.1%} to {c.ratio_high - 1:+.1%}), p={c.p_slower:.3f}"
    if c.ratio < 1 - threshold and c.p_slower < alpha:
        return ConfigVerdict(
            key, REGRESSION, f"slower by {1 - c.ratio:.1%} > {threshold:.0%}: {change}", base, cand, c
        )
    if c.ratio > 1 + threshold and c.ratio_low > 1:
        return ConfigVerdict(key, SPEEDUP, f"faster: {change}", base, cand, c)
    if c.ratio_low < 1 - threshold:
        return ConfigVerdict(
            key,
            INCONCLUSIVE,
            f"noise {c.noise:.1%} is too high to rule out a {threshold:.0%} drop with {c.n_candidate} measurements: "
            f"{change}; add rounds (--rounds) or raise --threshold",
            base,
            cand,
            c,
        )
    return ConfigVerdict(key, PASS, f"no drop beyond {threshold:.0%}: {change}", base, cand, c)


def sequential_verdict(
    key: str,
    baseline: Sequence[float],
    candidate: Sequence[float],
    look: Look | None,
    *,
    threshold: float,
    rounds: int,
    seconds: float,
) -> ConfigVerdict:
    """The verdict of a side-by-side check that measured until its sequential test decided (see
    dltune.sequential): the decision of its last look, or inconclusive when the time ran out first."""
    base, cand = list(baseline), list(candidate)
    if look is None:
        return ConfigVerdict(
            key,
            INCONCLUSIVE,
            f"the time budget ran out after {rounds} rounds ({seconds:.0f} s), too few to test: "
            "raise --max-time",
            base,
            cand,
            None,
        )
    ratio, low, high = math.exp(look.mean), math.exp(look.low), math.exp(look.high)
    c = Comparison(ratio, low, high, look.p_slower, look.sd, look.n, look.n)
    change = (
        f"{ratio - 1:+.1%} ({low - 1:+.1%} to {high - 1:+.1%} at this look's level {look.level:.2g}), "
        f"{look.n} process pairs, {rounds} rounds in {seconds:.0f} s"
    )
    if look.decision == REGRESSION:
        return ConfigVerdict(
            key, REGRESSION, f"slower by {1 - ratio:.1%} > {threshold:.0%}: {change}", base, cand, c
        )
    if look.decision == SPEEDUP:
        return ConfigVerdict(key, SPEEDUP, f"faster: {change}", base, cand, c)
    if look.decision == PASS:
        return ConfigVerdict(
            key, PASS, f"a drop beyond {threshold:.0%} is ruled out: {change}", base, cand, c
        )
    ruled_out = f"a drop beyond {1 - low:.1%} is ruled out, " if low < 1 else ""
    return ConfigVerdict(
        key,
        INCONCLUSIVE,
        f"undecided when the time budget ran out: {ruled_out}{threshold:.0%} is not: {change}; "
        "raise --max-time or --threshold",
        base,
        cand,
        c,
    )
