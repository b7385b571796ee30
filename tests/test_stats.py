"""Statistics checked against small hand-computed tables."""

from __future__ import annotations

import math

import pytest

from dltune.interval import segment_rates
from dltune.stats import compare, percentiles, summarize


def test_summary_hand_computed() -> None:
    s = summarize([10.0, 12.0, 14.0])
    assert s.mean == 12.0 and s.median == 12.0 and s.sd == 2.0
    assert s.cv == pytest.approx(2 / 12)
    # t(0.975, df=2) = 4.3027; half width = 4.3027 * 2 / sqrt(3) = 4.968
    assert s.ci_low == pytest.approx(12 - 4.968, abs=1e-3) and s.ci_high == pytest.approx(
        12 + 4.968, abs=1e-3
    )
    one = summarize([5.0])
    assert one.ci_low == one.ci_high == 5.0 and one.cv == 0


def test_segment_rates_respects_worker_bursts() -> None:
    samples = [10] * 8
    intervals = [0.0, 0.0, 0.0, 0.4] * 2  # 4 workers: bursts of 4 batches, 0.4 s apart
    # one-batch groups: the burst's instant batches have zero time and drop out, the others read 25/s
    assert segment_rates(samples, intervals, 8) == [25.0, 25.0]
    # groups spanning a whole burst read the true 40 samples / 0.4 s
    assert segment_rates(samples, intervals, 8, min_size=4) == [100.0, 100.0]


def test_percentiles() -> None:
    assert percentiles(list(range(1, 101)), (50, 90)) == pytest.approx([50.5, 90.1])
    assert all(math.isnan(v) for v in percentiles([]))


def test_compare_detects_a_drop_and_not_a_copy() -> None:
    base = [100, 101, 99, 100.5, 99.5, 100.2]
    same = compare(base, [100.1, 99.9, 100.4, 99.6, 100.0, 100.3])
    slower = compare(base, [90, 91, 89, 90.5, 89.5, 90.2])
    assert slower.ratio == pytest.approx(0.9, abs=0.01) and slower.p_slower < 0.01
    assert same.p_slower > 0.1 and 0.98 < same.ratio < 1.02
    assert slower.ratio_high < 1.0 < same.ratio_high
    with pytest.raises(ValueError):
        compare([1.0], [1.0, 2.0])
