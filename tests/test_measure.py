"""The timing window, driven by a fake clock and fake loaders."""

from __future__ import annotations

import pytest
import torch

from dltune.bench.measure import measure_loader
from dltune.bench.metrics import metrics_from_window
from dltune.bench.settings import MeasureSettings


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


class FakeLoader:
    """Each batch of ``bs`` samples takes ``per_batch`` s; the first of each epoch ``startup`` s more."""

    def __init__(
        self, clock: FakeClock, batches: int, bs: int = 4, per_batch: float = 0.1, startup: float = 0.0
    ):
        self.clock, self.batches, self.bs, self.per_batch, self.startup = (
            clock,
            batches,
            bs,
            per_batch,
            startup,
        )
        self.epochs = 0

    def __iter__(self):
        self.epochs += 1
        for i in range(self.batches):
            self.clock.t += self.per_batch + (self.startup if i == 0 else 0)
            yield torch.zeros(self.bs, 3)


def test_window_skips_buffered_batches_and_spans_whole_epochs() -> None:
    clock = FakeClock()
    loader = FakeLoader(clock, batches=5, startup=1.0)
    s = MeasureSettings(min_batches=12, min_seconds=0.5, segments=4)
    w = measure_loader(loader, s, buffered=4, clock=clock, sleep=clock.sleep)
    assert w.first_batch_s == pytest.approx(1.1)
    assert w.warmup_batches == 4
    # 12 batches were enough, but the window goes on to span whole epochs (5 batches each)
    assert len(w.samples) == 15 and sum(w.samples) == 60
    assert w.epochs >= 4 and loader.epochs == w.epochs
    # the epoch restarts (1 s start-up each) are inside the window, as they are in training
    restarts = [x for x in w.wait_s if x > 1.0]
    assert len(restarts) == 3  # epoch 1 is start-up + warm-up; the window holds epochs 2, 3 and 4
    m, raw = metrics_from_window(vars(w) | {}, 4, 1, 10, 20, 0.0)
    # exactly the long-run rate: 20 samples per epoch of 5 x 0.1 s + 1 s start-up
    assert m.samples_per_s == pytest.approx(20 / 1.5)
    assert m.wait_p99_ms > 1000 and m.batches == 15 and raw.samples == w.samples


def test_step_gives_stall_fraction() -> None:
    clock = FakeClock()
    loader = FakeLoader(clock, batches=100, per_batch=0.03)
    s = MeasureSettings(min_batches=10, min_seconds=0.1, step_ms=70)
    w = measure_loader(loader, s, buffered=0, clock=clock, sleep=clock.sleep)
    m, _ = metrics_from_window(vars(w), 5, 1, 0, 0, 70)
    assert m.stall_fraction == pytest.approx(0.3)
    assert m.samples_per_s == pytest.approx(4 / 0.1)


def test_max_seconds_ends_a_slow_window() -> None:
    clock = FakeClock()
    loader = FakeLoader(clock, batches=100, per_batch=2.0)
    w = measure_loader(
        loader, MeasureSettings(min_batches=50, max_seconds=10, segments=3), buffered=0, clock=clock
    )
    assert len(w.samples) == 5  # 10 s of 2 s batches


def test_window_holds_whole_worker_bursts() -> None:
    clock = FakeClock()
    loader = FakeLoader(clock, batches=1000, per_batch=0.01)
    w = measure_loader(
        loader, MeasureSettings(min_batches=5, min_seconds=0, segments=5), buffered=0, clock=clock, cycle=8
    )
    assert len(w.samples) == 40


def test_empty_loader_is_an_error() -> None:
    with pytest.raises(ValueError, match="no batch"):
        measure_loader([], MeasureSettings(), buffered=0)


@pytest.mark.parametrize("warmup", [0, 1, 2, 3, 5, 6])
def test_any_start_in_a_short_epoch_reads_the_long_run_rate(warmup: int) -> None:
    # wherever warm-up leaves the window's start, a window of whole epochs reads the same rate
    clock = FakeClock()
    loader = FakeLoader(clock, batches=7, per_batch=0.01, startup=0.7)  # the detection example's shape
    s = MeasureSettings(min_batches=12, min_seconds=0.1, max_seconds=60, segments=3, warmup_batches=warmup)
    w = measure_loader(loader, s, buffered=8, clock=clock, sleep=clock.sleep)
    assert len(w.samples) % 7 == 0
    assert sum(w.samples) / sum(w.interval_s) == pytest.approx(7 * 4 / (7 * 0.01 + 0.7))


def test_long_epochs_are_not_waited_for() -> None:
    clock = FakeClock()
    loader = FakeLoader(clock, batches=500, per_batch=0.01, startup=0.5)
    s = MeasureSettings(min_batches=12, min_seconds=0.1, max_seconds=60, segments=3)
    w = measure_loader(loader, s, buffered=495, clock=clock, sleep=clock.sleep)
    assert len(w.samples) == 12  # an epoch crossed, but one of 500 batches is not worth finishing
