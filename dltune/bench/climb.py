"""Walk the worker axis with real trials: up past the edge, down, and between (dltune.search decides)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from dltune.bench.ceiling import Ceiling, worker_ceiling
from dltune.bench.recorder import Recorder
from dltune.model import TrialResult
from dltune.model.hardware import HardwareFacts
from dltune.model.loader import LoaderConfig
from dltune.model.preflight import Preflight
from dltune.model.settings import MeasureSettings
from dltune.race import geo_mean
from dltune.search import next_workers


def axis_rates(rec: Recorder, make: Callable[[int], LoaderConfig | None]) -> dict[int, float]:
    """Samples/s (geometric mean of the repeats) by worker count, for the configurations ``make`` builds."""
    found: dict[int, list[float]] = {}
    for t in rec.trials:
        w = t.config.num_workers
        cfg = make(w) if w > 0 else None
        if cfg is not None and cfg.key() == t.key:
            found.setdefault(w, []).append(t.metrics.samples_per_s if t.ok and t.metrics else 0.0)
    return {w: geo_mean(v) for w, v in found.items()}


def off_axis_best(rec: Recorder, make: Callable[[int], LoaderConfig | None]) -> float:
    """The best rate (geometric mean of the repeats) of a configuration measured off the axis ``make`` builds
    (the main process alone, another batch size or depth): what a count on the axis must reach to matter."""
    found: dict[str, list[float]] = {}
    for t in rec.trials:
        w = t.config.num_workers
        cfg = make(w) if w > 0 else None
        if t.ok and t.metrics and (cfg is None or cfg.key() != t.key):
            found.setdefault(t.key, []).append(t.metrics.samples_per_s)
    return max((geo_mean(v) for v in found.values()), default=0.0)


def climb(
    rec: Recorder,
    make: Callable[[int], LoaderConfig | None],
    up: Sequence[int],
    settings: MeasureSettings,
    *,
    allowed: Sequence[int] | None,
    ceiling: int,
    steps: int,
    rank: bool = False,
) -> dict[int, float]:
    """Measure worker counts chosen by ``dltune.search.next_workers`` until it has nothing to add
    (or ``steps`` trials), skipping counts that could not reach the best measured off the axis; returns the
    rates along the axis. A failed count (memory, /dev/shm, a refused fork) reads 0 and stops the climb in
    that direction. ``rank``: each step's window is ranked against the best measured so far, on the axis or
    off it, and ends once clearly behind it (as tuning's screens do; measured on the text example: 8 workers,
    at 23,690 samples/s against the main process's 38,709, ran a 7.7 s window to reach 4% precision)."""
    rates = axis_rates(rec, make)
    for _ in range(steps):
        floor = off_axis_best(rec, make)
        step = next_workers(
            {w: r for w, r in rates.items() if r > 0}, up, allowed=allowed, ceiling=ceiling, floor=floor
        )
        if step is None or step[0] in rates:
            break
        cfg = make(step[0])
        if cfg is None:
            break
        lead = max([floor, *rates.values()]) if rank else 0.0
        rec.measure(cfg, dataclasses.replace(settings, rank_against=lead), f"search-{step[1]}")
        rates = axis_rates(rec, make)
        if rates.get(step[0], 0) <= 0:
            break
    return rates


def fed_ceiling(trials: Sequence[TrialResult], batch: int | None) -> Ceiling | None:
    """The most workers the dataset fed at this batch size where a trial had more than it fed
    (dltune.bench.fed): more workers than that only idle (measured on the stream example, 16 shards: 30
    workers read 6,986 samples/s, 16 as much), so a climb stops there. None: every trial fed them all."""
    short = [
        (t.config.num_workers, t.metrics.fed_workers)
        for t in trials
        if t.ok
        and t.metrics
        and t.metrics.fed_workers
        and (t.config.batch_size or 0) == (batch or 0)
        and t.metrics.fed_workers < t.config.num_workers
    ]
    if not short:
        return None
    w, k = max(short, key=lambda p: p[1])
    return Ceiling(
        k,
        f"the dataset feeds only {k} workers: with {w}, {w - k} made no batch (an IterableDataset "
        "with fewer shards than workers, or an epoch of fewer batches than workers), so more than "
        f"{k} only idle",
    )


def edge_notes(rates: dict[int, float], ceiling: Ceiling, open_ended: bool) -> list[str]:
    """What the report must say when the best is the largest worker count measured."""
    ok = {w: r for w, r in rates.items() if r > 0}
    if not ok:
        return []
    top, best = max(ok), max(ok, key=lambda w: ok[w])
    if best != top:
        return []
    if top >= ceiling.workers:
        return [
            f"throughput still rose at {top} workers, where the search stopped at a limit: {ceiling.limit}"
        ]
    if not open_ended:
        return [
            f"the best is the largest worker count measured ({top}): the best may lie beyond {top} workers "
            "(use --workers auto, or list larger counts)"
        ]
    return []


def measured_ceiling(
    hw: HardwareFacts,
    trial: TrialResult,
    settings: MeasureSettings,
    *,
    preflight: Preflight | None,
    batch_size: int | None,
    prefetch: int,
    max_workers: int | None,
) -> Ceiling:
    """The worker ceiling (per loader) from a measured trial: its workers' PSS per worker, its main
    processes, and the /dev/shm and open files that ``prefetch`` batches of ``batch_size`` take per worker
    (their bytes and tensors from the ``preflight``). A trial with ranks measured every rank's loader at
    once (its memory adds them up over the machines), and the machine's limits are shared by its
    ``settings.nproc_per_node`` loaders."""
    m, workers = trial.metrics, trial.config.num_workers or 1
    world = settings.nproc_per_node * settings.nnodes
    batch = batch_size or 1
    bpp = preflight.bytes_per_sample if preflight else None
    return worker_ceiling(
        hw,
        worker_bytes=m.peak_pss_workers / (workers * world) if m and m.peak_pss_workers else None,
        main_bytes=float(m.peak_pss_main) / settings.nnodes if m else 0.0,
        memory_limit=settings.memory_limit,
        memory_fraction=settings.memory_fraction,
        shm_per_worker=bpp * batch * prefetch if bpp else None,
        tensors_per_worker=preflight.tensors_per_batch(batch) * prefetch if preflight else 0.0,
        max_workers=max_workers,
        ranks=settings.nproc_per_node,
    )
