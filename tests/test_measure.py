"""The timing window, driven by a fake clock and fake loaders."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from dltune.bench.measure import measure_loader
from dltune.bench.metrics import metrics_from_window
from dltune.model.settings import MeasureSettings


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
    assert m.wait_p99_ms > 1000 and m.batches == 15 and list(raw.samples) == w.samples


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
    loader = BurstyLoader(clock, workers=8, round_s=0.08, jitter=0.0)
    w = measure_loader(
        loader, MeasureSettings(min_batches=5, min_seconds=0, segments=5), buffered=8, clock=clock, cycle=8
    )
    assert len(w.samples) == 40 and w.round_batches == 8


def test_a_paced_stream_needs_no_whole_rounds() -> None:
    """Workers ahead of the loop (full queues) deliver evenly spaced batches: no bursts to count, so a
    64-worker trial is not held to 6 rounds of 64 batches."""
    clock = FakeClock()
    loader = FakeLoader(clock, batches=100_000, per_batch=0.01)
    s = MeasureSettings(min_batches=5, min_seconds=0, segments=5)
    w = measure_loader(loader, s, buffered=128, clock=clock, cycle=64)
    assert len(w.samples) == 5 and w.round_batches == 1
    m, _ = metrics_from_window(vars(w), 4, 64, 0, 0, 0.0)
    assert m.samples_per_s == pytest.approx(4 / 0.01)


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


def test_a_window_ending_before_the_first_epoch_does_still_spans_whole_short_epochs() -> None:
    """Where the sampler says how long an epoch is, a window that would end at its minimums inside the
    first epoch (measured: 8 batches of the image example's 16-batch epoch read 645 samples/s against ~590
    over whole epochs) goes on to where it began in the next one, and so holds the epoch's start-up bubble."""
    clock = FakeClock()
    s = MeasureSettings(min_batches=8, min_seconds=0, segments=2, precision=0)
    cut = measure_loader(
        FakeLoader(clock, batches=16, per_batch=0.01, startup=0.3), s, buffered=2, clock=clock
    )
    assert len(cut.samples) == 8  # no epoch seen yet: the minimums end it, and it misses the bubble
    whole = measure_loader(
        FakeLoader(clock, batches=16, per_batch=0.01, startup=0.3),
        s,
        buffered=2,
        clock=clock,
        epoch_batches=16,
    )
    assert len(whole.samples) == 16
    assert sum(whole.samples) / sum(whole.interval_s) == pytest.approx(16 * 4 / (16 * 0.01 + 0.3))


def test_an_epoch_length_the_loader_misstates_gives_way_to_the_one_seen() -> None:
    clock = FakeClock()
    s = MeasureSettings(min_batches=8, min_seconds=0, segments=2, precision=0)
    loader = FakeLoader(clock, batches=7, per_batch=0.01, startup=0.7)
    w = measure_loader(loader, s, buffered=2, clock=clock, epoch_batches=20)
    assert len(w.samples) % 7 == 0


def test_epoch_length_is_known_only_for_a_map_style_loader() -> None:
    from torch.utils.data import DataLoader

    from dltune.bench.measure import epoch_length

    assert epoch_length(DataLoader(list(range(100)), batch_size=8), iterable=False) == 13
    assert epoch_length(DataLoader(list(range(100)), batch_size=8), iterable=True) is None


def test_long_epochs_are_not_waited_for() -> None:
    clock = FakeClock()
    loader = FakeLoader(clock, batches=500, per_batch=0.01, startup=0.5)
    s = MeasureSettings(min_batches=12, min_seconds=0.1, max_seconds=60, segments=3, precision=0)
    w = measure_loader(loader, s, buffered=495, clock=clock, sleep=clock.sleep)
    assert len(w.samples) == 12  # an epoch crossed, but one of 500 batches is not worth finishing


class BurstyLoader:
    """``workers`` batches arrive together every ``round_s`` (a burst), ``jitter`` alternating per round."""

    def __init__(
        self,
        clock: FakeClock,
        workers: int,
        round_s: float,
        jitter: float,
        bs: int = 4,
        irregular: bool = False,
    ) -> None:
        self.clock, self.workers, self.round_s, self.jitter, self.bs = clock, workers, round_s, jitter, bs
        self.irregular = irregular

    def __iter__(self):
        r = 0
        while True:
            sign = ((r * 7919) % 7 - 3) / 3 if self.irregular else (1 if r % 2 else -1)
            self.clock.t += self.round_s * (1 + self.jitter * sign)
            r += 1
            for _ in range(self.workers):
                yield torch.zeros(self.bs, 3)


def test_window_grows_until_precise_enough_and_ends_on_a_round() -> None:
    clock = FakeClock()
    loader = BurstyLoader(clock, workers=8, round_s=0.5, jitter=0.3)
    s = MeasureSettings(min_batches=8, min_seconds=0.5, max_seconds=600, segments=4, precision=0.03)
    w = measure_loader(loader, s, buffered=16, clock=clock, sleep=clock.sleep, cycle=8)
    assert len(w.samples) % 8 == 0  # whole bursts: a window that cut one would read high or low
    m, _ = metrics_from_window(vars(w), 4, 8, 0, 0, 0.0)
    assert (m.samples_per_s_high - m.samples_per_s) / m.samples_per_s <= 0.03
    assert m.samples_per_s == pytest.approx(8 * 4 / 0.5, rel=0.03)
    # the same window without a precision target stops at its minimums, with a wide interval
    clock2 = FakeClock()
    loose = measure_loader(
        BurstyLoader(clock2, 8, 0.5, 0.3),
        MeasureSettings(min_batches=8, min_seconds=0.5, max_seconds=600, segments=4, precision=0),
        buffered=16,
        clock=clock2,
        cycle=8,
    )
    assert len(loose.samples) < len(w.samples)


class JitterLoader:
    """Bursts of ``workers`` batches, each round taking ``round_s`` x (1 +- ``jitter`` x a seeded uniform)."""

    def __init__(self, clock: FakeClock, workers: int, round_s: float, jitter: float, seed: int = 0) -> None:
        import random

        self.clock, self.workers, self.round_s, self.jitter = clock, workers, round_s, jitter
        self.rng = random.Random(seed)

    def __iter__(self):
        while True:
            self.clock.t += self.round_s * (1 + self.jitter * self.rng.uniform(-1, 1))
            for _ in range(self.workers):
                yield torch.zeros(4, 3)


def test_an_imprecise_window_goes_on_past_its_cap_and_stops_at_the_hard_cap() -> None:
    """The time cap does not end a window that cannot rank yet: past it the target loosens with the
    time spent (twice the cap, twice the half-width), and 6x the cap ends any window."""
    clock = FakeClock()
    noisy = JitterLoader(clock, workers=4, round_s=1.0, jitter=0.6)
    s = MeasureSettings(min_batches=4, min_seconds=0.5, max_seconds=10, segments=4, precision=0.001)
    w = measure_loader(noisy, s, buffered=8, clock=clock, cycle=4)
    assert 60 <= w.window_s < 62 and len(w.samples) % 4 == 0
    # a window noisy enough to miss a 4% target at the cap ends once it meets the loosened one
    clock = FakeClock()
    s = MeasureSettings(min_batches=4, min_seconds=0.5, max_seconds=3, segments=6, precision=0.04)
    w = measure_loader(JitterLoader(clock, 4, 1.0, 0.5, seed=3), s, buffered=8, clock=clock, cycle=4)
    m, _ = metrics_from_window(vars(w), 6, 4, 0, 0, 0.0)
    half = (m.samples_per_s_high - m.samples_per_s) / m.samples_per_s
    assert 3 < w.window_s < 18 and half > 0.04 and half <= 0.04 * w.window_s / 3 * 1.01
    assert m.samples_per_s == pytest.approx(16, rel=half)


def test_a_window_of_one_segment_claims_no_precision() -> None:
    """One epoch-long segment says nothing about the spread: the interval is the whole range, not +-0."""
    window = {
        "samples": [4] * 8,
        "interval_s": [0.08, 0.08, 0.12, 0.12] * 2,
        "wait_s": [0.05] * 8,
        "bytes": [100] * 8,
        "first_batch_s": 0.2,
        "epochs": 1,
        "window_s": 0.8,
        "round_batches": 8,  # the cycle is the 8-batch epoch: one segment
    }
    m, _ = metrics_from_window(window, 4, 1, 0, 0, 0.0)
    assert m.samples_per_s == pytest.approx(40) and m.samples_per_s_high - m.samples_per_s_low > 0
    m, _ = metrics_from_window(
        window | {"samples": [4], "interval_s": [0.1], "wait_s": [0.05], "bytes": [1]}, 4, 1, 0, 0, 0.0
    )
    assert (m.samples_per_s_low, m.samples_per_s_high) == (0.0, pytest.approx(80))


def test_a_window_clearly_behind_the_leader_ends_once_ranked() -> None:
    """Tuning's screening trials rank against the leader: a configuration whose interval lies wholly
    below the leader's rate stops at three rounds, however far its interval is from the precision target;
    one whose interval holds the leader's rate goes on until it is precise, and so does one clearly ahead:
    it is the new leader, whose rate every later screen is ranked against."""
    s = MeasureSettings(min_batches=4, min_seconds=0.5, max_seconds=3, segments=6, precision=0.04)

    def window(rank_against: float):
        clock = FakeClock()
        loader = JitterLoader(clock, workers=4, round_s=1.0, jitter=0.3, seed=1)  # about 16 samples/s
        return measure_loader(loader, replace(s, rank_against=rank_against), buffered=8, clock=clock, cycle=4)

    behind, ahead, close, alone = window(40.0), window(8.0), window(17.0), window(0.0)
    assert len(behind.samples) == 3 * 4  # three rounds: clearly below 40/s
    assert len(close.samples) > 3 * 4 and len(close.samples) == len(alone.samples)
    assert len(ahead.samples) == len(alone.samples)  # clearly above 8/s: measured as if alone


def test_a_window_ends_well_before_its_trial_times_out() -> None:
    """The loosening window stops at half the trial's timeout at the latest: a trial is measured, not
    killed as a hang, however imprecise its window."""
    clock = FakeClock()
    noisy = JitterLoader(clock, workers=4, round_s=1.0, jitter=0.6)
    s = MeasureSettings(
        min_batches=4, min_seconds=0.5, max_seconds=8, segments=4, precision=0.001, timeout_s=20
    )
    w = measure_loader(noisy, s, buffered=8, clock=clock, cycle=4)
    assert 10 <= w.window_s < 11 and len(w.samples) % 4 == 0
