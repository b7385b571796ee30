"""The worker-axis search (pure): climb past the edge, stop when flat, narrow a peak only when it pays."""

from __future__ import annotations

import pytest

from dltune.bench.ceiling import HARD_CAP, ladder, worker_ceiling
from dltune.model.hardware import CpuFacts, HardwareFacts, MemoryFacts
from dltune.search import next_workers


def walk(truth, start: list[int], up: list[int], allowed=None, ceiling=None, steps=12) -> dict[int, float]:
    """Drive next_workers as the tuner does, against a known curve."""
    rates = {w: truth(w) for w in start}
    for _ in range(steps):
        step = next_workers(rates, up, allowed=allowed, ceiling=ceiling)
        if step is None:
            break
        assert step[0] not in rates
        rates[step[0]] = truth(step[0])
    return rates


def peaked(w: int) -> float:
    """Storage-latency-bound on a small machine: linear to 40 workers, then slower (contention)."""
    return 150.0 * w if w <= 40 else 6000.0 - 40.0 * (w - 40)


def test_the_climb_goes_past_the_edge_and_finds_the_peak() -> None:
    rates = walk(peaked, [1, 8], ladder(8, 256))
    best = max(rates, key=lambda w: rates[w])
    assert peaked(best) >= 0.95 * 6000, rates
    assert max(rates) >= 64  # it went beyond the peak to see the fall
    assert len(rates) <= 9, rates


def test_a_flat_step_stops_the_climb() -> None:
    cpu = lambda w: min(100.0 * w, 200.0)  # noqa: E731 - two cores, CPU-bound
    rates = walk(cpu, [1, 2], ladder(2, 256))
    assert max(rates) == 4  # 4 workers gained nothing over 2: no reason to try 8
    assert len(rates) <= 4  # at most one look between 2 and 4
    assert next_workers({1: 100.0, 2: 200.0, 3: 200.0, 4: 201.0}, [4, 8, 16]) is None


def test_the_smallest_leading_walks_down() -> None:
    assert next_workers({4: 500.0, 8: 300.0}, [8, 16], allowed=[1, 2, 4, 8]) == (2, "down")
    # an open axis steps down by a factor worth ranking, not by one worker
    assert next_workers({32: 5694.0, 64: 5465.0}, [128]) == (24, "down")
    assert next_workers({2: 500.0, 4: 300.0}, [8]) == (1, "down")


def test_a_listed_axis_is_respected() -> None:
    rates = walk(peaked, [1, 8], [16, 32], allowed=[1, 2, 4, 8, 16, 32])
    assert set(rates) <= {1, 2, 4, 8, 16, 32} and 32 in rates


def test_the_ceiling_stops_the_climb() -> None:
    rates = walk(lambda w: 100.0 * w, [1, 8], ladder(8, 48), ceiling=48)
    assert max(rates) == 48


def test_between_only_where_the_peak_could_be() -> None:
    # a sharp knee at 8 (CPU-bound on 8 cores): nothing between 1 and 8 can beat 8 by 5%
    rates = {1: 100.0, 8: 780.0, 16: 740.0}
    step = next_workers(rates, [16, 32], allowed=None)
    assert step is not None and 8 < step[0] < 16
    rates[step[0]] = 770.0
    assert next_workers(rates, [16, 32]) is None or next_workers(rates, [16, 32])[0] > 8  # type: ignore[index]


def early_plateau(w: int) -> float:
    """Slow samples whose batches the main process can take only so fast: each worker adds 44/s until
    560/s at 13 workers, then more workers only contend (the bursty benchmark's shape)."""
    return min(44.0 * w, 560.0) - (2.0 * (w - 13) if w > 13 else 0.0)


def test_a_plateau_that_starts_early_is_found_from_below() -> None:
    # the model sent the search to 32 and 64 (it expected the plateau far higher): the knee step looks
    # down to where one worker's rate reaches the best, and finds nearly the same rate at far fewer workers
    assert next_workers({1: 44.0, 32: 522.0, 64: 458.0}, ladder(32, 256)) == (12, "knee")
    rates = walk(early_plateau, [1, 32, 64], ladder(32, 256))
    best = max(rates, key=lambda w: rates[w])
    assert best <= 16 and early_plateau(best) >= 0.94 * 560, rates  # within KNEE of the peak
    assert len(rates) <= 5, rates  # one look down, nothing between: 20 could not gain 5%


def test_a_chord_of_two_close_noisy_points_does_not_rule_out_a_long_stretch() -> None:
    # measured on the bursty case: the knee found 13 workers ahead of 64 and 74; the chord through 64 and 74,
    # extended to 29, bounded it at 607 against 13's 608 as if those two readings were exact, so nothing
    # between 13 and 64 was measured (side by side, 24 workers beat 32 by 12%). Each reading is a few
    # percent off: extended 3.5x its own length, that chord bounds nothing
    assert next_workers({1: 44.0, 13: 608.0, 64: 551.0, 74: 535.0}, ladder(64, 256)) == (29, "between")
    # a short extension still bounds: the curve is concave (nothing between 8 and 11 could gain 5%)
    assert next_workers({1: 100.0, 8: 780.0, 11: 700.0, 16: 600.0}, [32]) is None


def test_the_knee_needs_a_real_saving_and_a_listed_count() -> None:
    # one worker's rate says 8 could deliver what 16 do: half the workers, worth a look
    assert next_workers({1: 100.0, 16: 720.0, 32: 700.0}, [64]) == (8, "knee")
    # 9 already deliver it and 8 would save one worker: no look down
    step = next_workers({1: 100.0, 9: 720.0, 16: 730.0}, [32])
    assert step is None or step[1] != "knee"
    # a listed axis: the smallest listed count at or above the knee
    assert next_workers({1: 44.0, 32: 522.0, 64: 458.0}, [], allowed=[1, 2, 4, 8, 16, 32, 64]) == (16, "knee")


def _hw(open_files: int = 65536, headroom: int | None = None, shm_free: int = 16 << 30) -> HardwareFacts:
    return HardwareFacts(
        cpu=CpuFacts(2, 2, 2, None, 2),
        memory=MemoryFacts(24 << 30, 20 << 30, 0, 0, None, None, 16 << 30, shm_free, open_files, open_files),
        process_headroom=headroom,
    )


@pytest.mark.parametrize(
    ("kw", "workers", "named"),
    [
        ({}, HARD_CAP, "cap"),
        ({"worker_bytes": 1 << 30}, 16, "memory"),
        ({"shm_per_worker": 1 << 30, "hw": _hw(shm_free=10 << 30)}, 9, "/dev/shm"),
        ({"hw": _hw(open_files=1024)}, 112, "open files"),
        ({"hw": _hw(headroom=40)}, 24, "processes"),
        ({"max_workers": 12}, 12, "--max-workers"),
        # ranks on one machine share its memory, /dev/shm and processes; open files are per process
        ({"worker_bytes": 1 << 30, "ranks": 2}, 8, "for each of 2 ranks"),
        ({"shm_per_worker": 1 << 30, "hw": _hw(shm_free=10 << 30), "ranks": 3}, 3, "/dev/shm"),
        ({"hw": _hw(headroom=40), "ranks": 4}, 6, "processes"),
        ({"hw": _hw(open_files=1024), "ranks": 4}, 112, "open files"),
        # batches of many tensors: each tensor in flight is an open file in the main process (the bursty
        # benchmark: 129 tensors a batch, prefetch 2, ulimit -n 20000; 128 workers ran out of files)
        ({"hw": _hw(open_files=20000), "tensors_per_worker": 2 * 129}, 74, "258 tensors of batches"),
    ],
)
def test_the_ceiling_names_the_limit(kw: dict, workers: int, named: str) -> None:
    hw = kw.pop("hw", _hw())
    c = worker_ceiling(hw, **kw)
    assert c.workers == workers and named in c.limit


def test_ladder_doubles_to_the_ceiling() -> None:
    assert ladder(8, 48) == [16, 32, 48]
    assert ladder(8, 64) == [16, 32, 64]
    assert ladder(8, 8) == []
    # a ceiling just past a doubling replaces it: 64 and 74 workers cannot be ranked by one screen each
    assert ladder(16, 74) == [32, 74]
    assert ladder(64, 74) == [74]


def test_the_preflight_counts_how_a_batch_grows_in_tensors() -> None:
    """A stacked batch holds a fixed number of tensors, a list-collated one one per sample and field."""
    import torch
    from torch.utils.data import default_collate

    from dltune.bench.trial import tensor_growth
    from dltune.engine.transfer import tensors_in
    from dltune.model import Preflight

    def listed(batch: list) -> dict:
        return {"image": torch.stack([b["image"] for b in batch]), "boxes": [b["boxes"] for b in batch]}

    samples = [{"image": torch.zeros(3), "boxes": torch.zeros(i + 1, 4)} for i in range(16)]
    fixed, per = tensor_growth(listed, samples, len(tensors_in(listed(samples))))
    assert (fixed, per) == (1.0, 1.0)
    assert Preflight(tensors_fixed=fixed, tensors_per_sample=per).tensors_per_batch(64) == 65
    pairs = [(torch.zeros(3), torch.tensor(i)) for i in range(16)]
    assert tensor_growth(default_collate, pairs, len(tensors_in(default_collate(pairs)))) == (2.0, 0.0)


def test_counts_that_cannot_reach_the_main_process_are_not_measured() -> None:
    # the text example: the main process alone read 41,396 samples/s, no worker count more than 31,284
    rates = {1: 17074.0, 2: 26921.0, 4: 28684.0, 8: 31284.0, 16: 28424.0}
    assert next_workers(rates, ladder(8, 64)) == (11, "between")
    assert next_workers(rates, ladder(8, 64), floor=41396.0) is None
    # a rung whose bound lies below the floor may lead to one above it: the climb goes on
    assert next_workers({1: 17000.0, 2: 34000.0}, [4, 8, 16], floor=41000.0) == (4, "up")
    # unless the ceiling stops it below the floor
    assert next_workers({1: 17000.0, 2: 20000.0}, [4], ceiling=4) == (4, "up")
    assert next_workers({1: 17000.0, 2: 20000.0}, [4], ceiling=4, floor=41000.0) is None


def test_a_plateau_is_not_taken_for_a_rise_by_a_point_between_two_rungs() -> None:
    # the latency case on a slow day: 64 workers gained 2.3% over 32, and 45 (measured between them) read
    # a little low; against 45 alone 64 "rose" 3.2% and the climb went on to 128 workers
    rates = {1: 228.0, 32: 6380.0, 45: 6323.0, 64: 6524.0}
    assert next_workers(rates, [64, 128, 256]) is None
    # a real rise over the whole doubling still climbs
    assert next_workers({1: 228.0, 32: 6000.0, 45: 6323.0, 64: 6524.0}, [64, 128, 256]) == (128, "up")
