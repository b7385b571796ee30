"""The sequential test behind `check --against`: looking often never inflates the error rates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dltune.sequential import LOOKS, MIN_N, PASS, REGRESSION, SPEEDUP, SequentialTest, spent


def test_the_spending_function_spends_alpha_by_the_end_and_nothing_at_the_start() -> None:
    ts = np.linspace(0, 1, 21)
    values = [spent(0.05, float(t)) for t in ts]
    assert values[0] == 0 and math.isclose(values[-1], 0.05)
    assert all(b > a for a, b in zip(values, values[1:], strict=False))
    assert spent(0.05, 2.0) == pytest.approx(0.05)  # past the end: nothing more


def test_looks_come_at_tenths_of_the_budget_after_the_first_rounds() -> None:
    seq = SequentialTest(0.05, 0.05)
    assert not seq.due(0.5, MIN_N - 1)  # too few rounds, whatever the time
    assert seq.due(0.1, MIN_N)
    seq.look([0.0, 0.01, -0.01, 0.02], 0.1)
    assert not seq.due(0.15, MIN_N + 1) and seq.due(0.2, MIN_N + 1)
    seq.look([0.0, 0.01, -0.01, 0.02, 0.0], 0.55)  # a late look skips the tenths it passed
    assert not seq.due(0.59, 6) and seq.due(0.6, 6) and seq.due(1.0, 6)


def simulate(
    drift: float, sd: float, threshold: float, alpha: float, runs: int, rounds: int = 40, seed: int = 1
):
    """Checks on simulated round log-ratios, a look after every round (more often than the check looks)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(runs):
        logs = rng.normal(drift, sd, rounds)
        seq = SequentialTest(alpha, threshold)
        decision = None
        for n in range(MIN_N, rounds + 1):
            t = n / rounds
            if seq.due(t, n):
                decision = seq.look(list(logs[:n]), t).decision
                if decision:
                    break
        out.append(decision)
    return out


def test_identical_code_almost_never_fails_however_often_it_looks() -> None:
    # a threshold near zero leaves only the significance test between noise and a false alarm
    decisions = simulate(0.0, 0.1, threshold=1e-6, alpha=0.05, runs=600)
    false_alarms = decisions.count(REGRESSION)
    assert false_alarms <= 0.05 * 600 * 1.3, false_alarms  # at most alpha (plus sampling slack)
    assert decisions.count(SPEEDUP) <= 0.05 * 600 * 1.3


def test_a_drop_of_the_threshold_is_rarely_passed() -> None:
    decisions = simulate(math.log(0.95), 0.1, threshold=0.05, alpha=0.05, runs=600, seed=2)
    assert decisions.count(PASS) + decisions.count(SPEEDUP) <= 0.05 * 600 * 1.3


def test_clear_cases_are_decided_early_and_a_real_drop_is_caught() -> None:
    assert simulate(math.log(0.90), 0.05, 0.05, 0.025, runs=100).count(REGRESSION) >= 95
    assert simulate(0.0, 0.05, 0.05, 0.025, runs=100).count(PASS) >= 95
    # with this little noise the first look decides
    seq = SequentialTest(0.025, 0.05)
    look = seq.look([math.log(0.75)] * 3 + [math.log(0.76)], 1 / LOOKS)
    assert look.decision == REGRESSION and look.high < 0 and look.level < 0.025


def test_the_last_look_spends_what_is_left() -> None:
    seq = SequentialTest(0.05, 0.05)
    first = seq.look([0.1, -0.1, 0.05, -0.05], 0.3)
    last = seq.look([0.1, -0.1, 0.05, -0.05, 0.0], 1.0)
    assert first.level + last.level == pytest.approx(0.05)
    assert last.decision is None  # too noisy to rule out 5%: inconclusive, not a guess
