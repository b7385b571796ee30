"""Adaptive tuning: the grid's best configuration from a fraction of its trials.

1. Calibrate: measure num_workers=0 and num_workers=1 at the middle batch size.
2. Predict every worker count of the space with the stage-cost model (dltune.tune_model).
3. Screen, with short windows: every batch size at the knee (the smallest promising worker count),
   then the other promising worker counts at the best batch size.
4. Successive halving: the best three get full windows, pooled with what was measured; the better
   half goes on until the best one's interval separates from the rest; then the winner's other
   prefetch factors.
The result is an ordinary run (recommend and the reports read it) whose ``tuning`` field holds the
stage costs and the prediction for every configuration measured.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dltune.bench.runner import Event, preflight_and_plan
from dltune.bench.settings import MeasureSettings
from dltune.bench.space import Planned, SweepSpace
from dltune.bench.trial import run_trial
from dltune.engine.config import LoaderConfig
from dltune.errors import BenchmarkError
from dltune.hardware.facts import HardwareFacts
from dltune.model import RunResult, TrialResult
from dltune.stats import summarize
from dltune.store import save_run
from dltune.tune_model import StageCosts, bound, predict, promising_workers

SMALL_GRID = 10
"""Grids of at most this many configurations are measured whole: tuning would not save time."""


def _screen_settings(s: MeasureSettings) -> MeasureSettings:
    return dataclasses.replace(
        s,
        min_seconds=min(s.min_seconds, 0.4),
        max_seconds=min(s.max_seconds, 2.0),
        min_batches=min(s.min_batches, 6),
        segments=min(s.segments, 3),
    )


def _pick(planned: list[Planned], **want: Any) -> LoaderConfig | None:
    for p in planned:
        if all(getattr(p.config, k) == v for k, v in want.items()):
            return p.config
    return None


def stage_costs(w0: TrialResult, w1: TrialResult, workers_in_w1: int, cores: int) -> StageCosts:
    if not (w0.ok and w1.ok and w0.metrics and w1.metrics):
        bad = w0 if not w0.ok else w1
        raise BenchmarkError(f"calibration trial {bad.key} failed: {bad.status}: {bad.reason}", bad.hint)
    m0, m1 = w0.metrics, w1.metrics
    per_worker = m1.samples_per_s / workers_in_w1
    worker_cpu = (
        (m1.cpu_workers_pct / 100) / workers_in_w1 if m1.cpu_workers_pct == m1.cpu_workers_pct else 1.0
    )
    main = (
        (m1.cpu_main_pct / 100) / m1.samples_per_s
        if m1.samples_per_s and m1.cpu_main_pct == m1.cpu_main_pct
        else 0
    )
    return StageCosts(m0.samples_per_s, per_worker, max(worker_cpu, 0.01), main, cores)


def _rates(trials: list[TrialResult]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for t in trials:
        if t.ok and t.metrics:
            out[t.key].append(t.metrics.samples_per_s)
    return out


def _separated(rates: dict[str, list[float]], keys: list[str]) -> bool:
    """The best key's interval lies above every other's."""
    ranked = sorted(keys, key=lambda k: -sum(rates[k]) / len(rates[k]))
    if len(ranked) < 2 or any(len(rates[k]) < 2 for k in ranked[:2]):
        return False
    best, second = summarize(rates[ranked[0]]), summarize(rates[ranked[1]])
    return best.ci_low > second.ci_high


def run_tune(
    target: str,
    space: SweepSpace,
    settings: MeasureSettings,
    hardware: HardwareFacts,
    *,
    out_root: Path,
    name: str | None = None,
    on_event: Callable[[Event], None] = lambda e: None,
    trial_runner: Callable[..., TrialResult] = run_trial,
    max_rounds: int = 3,
) -> tuple[RunResult, Path]:
    run, folder, planned, pruned = preflight_and_plan(
        target, space, settings, hardware, out_root=out_root, name=name
    )
    cores = hardware.cpu.usable
    sweep = [p for p in planned if p.role == "sweep"]
    if not sweep:
        raise BenchmarkError(
            "nothing left to measure: every configuration was dropped",
            "see the dropped configurations above and widen the space",
        )
    sizes = sorted({p.config.batch_size or 0 for p in sweep})
    mid = sizes[len(sizes) // 2] or None
    worker_choices = sorted({p.config.num_workers for p in sweep})
    trials: list[TrialResult] = []
    on_event(Event("planned", run, total=0, pruned=tuple(pruned), folder=folder))

    def measure(cfg: LoaderConfig, s: MeasureSettings, role: str) -> TrialResult:
        nonlocal run
        on_event(Event("trial_start", run, index=len(trials), planned=Planned(cfg, role)))
        t = trial_runner(target, cfg, s, role=role, repeat=sum(x.key == cfg.key() for x in trials))
        trials.append(t)
        run = dataclasses.replace(run, trials=tuple(trials))
        save_run(run, folder)
        on_event(
            Event("trial_done", run, index=len(trials), trial=t, planned=Planned(cfg, role), folder=folder)
        )
        return t

    if len(sweep) <= SMALL_GRID:
        # a grid this small costs less to measure whole than to calibrate, screen and halve
        for p in planned:
            measure(p.config, settings, p.role)
        run = dataclasses.replace(
            run, tuning={"grid_size": len(planned), "trials": len(trials), "exhaustive": True}, complete=True
        )
        save_run(run, folder)
        on_event(Event("done", run, total=len(trials), folder=folder))
        return run, folder
    # 1. calibration
    c0 = _pick(sweep, num_workers=0, batch_size=mid, pinning="off") or _pick(sweep, num_workers=0)
    smallest = min((w for w in worker_choices if w > 0), default=None)
    c1 = _pick(sweep, num_workers=smallest, batch_size=mid) if smallest else None
    if c0 is None or c1 is None or smallest is None:
        raise BenchmarkError(
            "tuning needs num_workers 0 and at least one count above 0 in the space",
            "add them to --workers, or use `dltune bench` for the grid",
        )
    t0, t1 = measure(c0, settings, "calibration"), measure(c1, settings, "calibration")
    costs = stage_costs(t0, t1, smallest, cores)
    predictions = {p.config.key(): predict(costs, p.config.num_workers) for p in sweep}
    # 2. promising worker counts; the knee is the smallest of them
    keep_workers = promising_workers(costs, worker_choices, most=2)
    min_pf = min((p.config.prefetch_factor or 2 for p in sweep if p.config.num_workers), default=2)

    def config(workers: int, batch: int | None) -> LoaderConfig | None:
        if workers == 0:
            return _pick(sweep, num_workers=0, batch_size=batch, pinning="off") or _pick(
                sweep, num_workers=0, batch_size=batch
            )
        return _pick(sweep, num_workers=workers, batch_size=batch, prefetch_factor=min_pf)

    screen = _screen_settings(settings)

    def screen_all(configs: list[LoaderConfig | None]) -> list[LoaderConfig]:
        done = {t.key for t in trials}
        out = [c for c in configs if c is not None]
        for c in out:
            if c.key() not in done:
                measure(c, screen, "screen")
                done.add(c.key())
        return out

    def mean_rate(c: LoaderConfig) -> float:
        r = _rates(trials).get(c.key(), [0.0])
        return sum(r) / len(r)

    # 3a. batch sizes at the knee; 3b. the other promising worker counts at the best batch size
    at_knee = screen_all([config(keep_workers[0], b or None) for b in sizes])
    best_bs = max(at_knee, key=mean_rate).batch_size if at_knee else mid
    others = screen_all([config(w, best_bs) for w in keep_workers[1:]])
    alive = sorted({c.key(): c for c in [*at_knee, *others]}.values(), key=mean_rate, reverse=True)[:3]
    # 4. successive halving with full windows, pooled with what was measured
    for _ in range(max_rounds):
        for cfg in alive:
            measure(cfg, settings, "tune")
        alive.sort(key=mean_rate, reverse=True)
        if len(alive) == 1 or _separated(_rates(trials), [c.key() for c in alive]):
            break
        alive = alive[: max(1, len(alive) // 2)] if len(alive) > 2 else alive[:2]
    winner = max(alive, key=mean_rate)
    # the winner's other prefetch factors, and DataLoader's defaults at its batch size for comparison
    extras = [
        p.config
        for p in sweep
        if p.config.num_workers == winner.num_workers
        and winner.num_workers
        and p.config.batch_size == winner.batch_size
        and p.config.pinning == winner.pinning
        and p.config.key() != winner.key()
    ]
    defaults = _pick(planned, num_workers=0, batch_size=winner.batch_size, pinning="off")
    for cfg in [*extras, *([defaults] if defaults is not None else [])]:
        if cfg.key() not in {t.key for t in trials}:
            measure(cfg, settings, "tune" if cfg in extras else "reference")
    tuning = {
        "costs": costs.to_dict(),
        "grid_size": len(planned),
        "trials": len(trials),
        "predictions": {
            p.config.key(): {
                "predicted": predictions[p.config.key()],
                "bound": bound(costs, p.config.num_workers),
            }
            for p in sweep
        },
    }
    run = dataclasses.replace(run, trials=tuple(trials), tuning=tuning, complete=True)
    save_run(run, folder)
    on_event(Event("done", run, total=len(trials), folder=folder))
    return run, folder
