"""A group-sequential paired test for the regression check (pure: numbers in, a decision out).

The check measures in ABBA rounds until the verdict is decided or its time budget is spent. Looking at
the data again and again and stopping at the first "significant" look would inflate false alarms
far beyond ``alpha``; here every look spends part of the error budget, so the chance of any false
decision over all looks stays at most ``alpha`` whenever the check stops:

- information time ``t`` in (0, 1] is the share of the budget used (time, or rounds when those cap);
- the error spent by ``t`` follows a Pocock-type spending function (Lan & DeMets 1983):
  ``alpha * ln(1 + (e - 1) t)`` - a clear case can stop early, and the last look still has a fair share;
- look k tests at the nominal level ``spent(t_k) - spent(t_k-1)``: by the union bound the levels of all
  looks add up to at most ``alpha``, whatever the looks' correlation (conservative, never optimistic);
- each look is a one-sided trimmed-mean t-test (Yuen's, ``trimmed``) on the log-ratios
  ``log(candidate / base)``, one per pair of processes (see dltune.bench.paired).

Three decisions, each with its own error budget ``alpha``:
- regression: significantly slower than the base AND the estimated drop is beyond the threshold;
- pass: a drop as large as the threshold is ruled out (its error: passing a real regression);
- speedup: significantly faster, beyond the threshold (a pass, reported as such).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

REGRESSION, PASS, SPEEDUP = "regression", "pass", "speedup"
MIN_N = 4
"""No decision on fewer observations: a t-test on fewer has too few degrees of freedom to trust."""
LOOKS = 10
"""Looks are spaced at tenths of the budget (and one at its end): more looks would each get a thinner slice."""


def spent(alpha: float, t: float) -> float:
    """The error budget spent by information time ``t`` (Pocock-type spending): 0 at 0, ``alpha`` at 1."""
    t = min(max(t, 0.0), 1.0)
    return alpha * math.log1p((math.e - 1) * t)


TRIM = 0.1
"""The share of observations trimmed from each end (Yuen's trimmed-mean t-test)."""


def trimmed(values: Sequence[float], trim: float = TRIM) -> tuple[float, float, int, float]:
    """(trimmed mean, its standard error, degrees of freedom, winsorized s.d.) by Yuen (1974).

    Runner noise is heavy-tailed: most measurements agree within a few percent, and now and then one
    falls into a slow spell of the machine and is off by 30-50%. The plain mean and s.d. let those
    few set the interval; trimming them (symmetrically, so no direction is favoured) keeps the test's
    level and narrows the interval on such data."""
    x = sorted(values)
    n = len(x)
    g = int(trim * n)
    kept = x[g : n - g]
    mean = math.fsum(kept) / len(kept)
    wins = [x[g]] * g + kept + [x[n - g - 1]] * g
    wmean = math.fsum(wins) / n
    sd = math.sqrt(math.fsum((v - wmean) ** 2 for v in wins) / (n - 1)) if n > 1 else math.inf
    se = sd / ((1 - 2 * g / n) * math.sqrt(n))
    return mean, se, max(1, n - 2 * g - 1), sd


@dataclass(frozen=True)
class Look:
    """What one look at the rounds saw."""

    n: int
    """Observations (process pairs) the look saw."""
    t: float
    """Information time of this look, in (0, 1]."""
    level: float
    """The nominal one-sided level this look tested at (its slice of the error budget)."""
    mean: float
    """Trimmed mean round log-ratio log(candidate / base)."""
    low: float
    high: float
    """Log-ratio bounds at this look's level (lower and upper one-sided)."""
    p_slower: float
    """One-sided p-value for 'candidate slower' (a nominal value: compare it with ``level``)."""
    sd: float
    decision: str | None


@dataclass
class SequentialTest:
    """Looks at a growing list of log-ratios (one per process pair); ``look`` returns what it saw, with
    a decision or None (go on)."""

    alpha: float
    threshold: float
    _spent_t: float = 0.0
    _next_look: int = 1

    def due(self, t: float, n: int) -> bool:
        """Whether a look is due at information time ``t`` (the next tenth reached, or the end)."""
        return n >= MIN_N and (t >= 1.0 or t >= self._next_look / LOOKS)

    def look(self, logs: Sequence[float], t: float) -> Look:
        """Spend the budget since the last look on a test of ``logs`` (one per round) at time ``t``.

        At ``t >= 1`` all that is left is spent; a look whose decision is None at ``t >= 1`` is inconclusive."""
        t = min(t, 1.0)
        level = max(spent(self.alpha, t) - spent(self.alpha, self._spent_t), 1e-12)
        self._spent_t = t
        self._next_look = max(self._next_look + 1, math.floor(t * LOOKS + 1e-9) + 1)
        n = len(logs)
        mean, se, df, sd = trimmed(logs)
        if se == 0:  # identical rounds (a fake or a frozen clock): the mean is exact
            q, p = 0.0, (0.0 if mean < 0 else 1.0)
        else:
            from scipy import stats as sps  # here: the measuring child imports this module, not scipy

            q = float(sps.t.ppf(1 - level, df))
            p = float(sps.t.cdf(mean / se, df))
        low, high = mean - q * se, mean + q * se
        floor = math.log(1 - self.threshold)
        decision = None
        if high < 0 and mean < floor:
            decision = REGRESSION
        elif low > 0 and mean > math.log(1 + self.threshold):
            decision = SPEEDUP
        elif low > floor:
            decision = PASS
        return Look(n, t, level, mean, low, high, p, sd, decision)
