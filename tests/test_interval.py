"""Intervals over whole worker rounds, checked against hand-computed values."""

from __future__ import annotations

import math

import pytest

from dltune.interval import RunningWindow, rel_half_width, segment_bounds, segment_rates, t975


def test_t_quantiles_match_the_tables() -> None:
    assert t975(1) == pytest.approx(12.706) and t975(4) == pytest.approx(2.776)
    assert t975(30) == pytest.approx(2.042, abs=0.003) and t975(120) == pytest.approx(1.980, abs=0.002)
    assert t975(0) == math.inf


def test_segments_hold_whole_rounds() -> None:
    # 8 workers, 43 batches: 5 whole rounds; 4 segments of 1-2 rounds; the 3 extra batches join the last
    bounds = segment_bounds(43, 4, 8)
    assert bounds[0] == 0 and bounds[-1] == 43
    assert all(b % 8 == 0 for b in bounds[:-1]) and len(bounds) == 5
    assert segment_bounds(5, 4, 8) == [0, 5]  # less than a round: one segment
    assert segment_bounds(12, 4, 1) == [0, 3, 6, 9, 12]


def test_relative_half_width_hand_computed() -> None:
    # mean 100, sd 10, n 4: t(3) 3.182 x 10 / 2 / 100
    # mean 100; sd = sqrt(4 x 100 / 3) = 11.547; half-width t(3) x sd / sqrt(4) = 3.182 x 11.547 / 2 = 18.37
    assert rel_half_width([90, 110, 90, 110]) == pytest.approx(0.1837, abs=2e-4)
    assert rel_half_width([100.0]) == math.inf


def test_running_window_agrees_with_the_direct_computation() -> None:
    samples = [64] * 37
    intervals = [0.01 * (1 + (i % 5) / 10) for i in range(37)]
    w = RunningWindow()
    for s, t in zip(samples, intervals, strict=True):
        w.add(s, t)
    assert w.rates(6, 4) == pytest.approx(segment_rates(samples, intervals, 6, 4))
    assert w.rel_half_width(6, 4) == pytest.approx(rel_half_width(segment_rates(samples, intervals, 6, 4)))
