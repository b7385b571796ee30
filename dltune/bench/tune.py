"""Adaptive tuning: the grid's best configuration from a fraction of its trials.

1. Calibrate: measure num_workers=0 and num_workers=1 at the middle batch size.
2. Predict every worker count of the space with the stage-cost model (dltune.tune_model).
3. Screen: every batch size at the knee (the smallest promising worker count), then the other
   promising worker counts at the best batch size.
4. Neighbours: the leader's other prefetch factors get one trial (and its other batch sizes when its
   worker count was not screened across them).
5. Race (dltune.race): the best two are measured again, in rotating order, and the clearly slower
   dropped, until one is left, the rest is provably within 4%, or ``max_rounds`` rounds are done.
Every trial is shorter than a sweep's (1 s windows by default) and they run one after another in two
fresh interpreters (one for num_workers=0, one for worker configurations), which re-import the
dataset file for each trial: starting an interpreter, importing torch
and the dataset per trial would cost more than the measurements themselves.
The result is an ordinary run (recommend and the reports read it) whose ``tuning`` field holds the
stage costs and the prediction for every configuration measured.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dltune.bench.child import WatchedProcess
from dltune.bench.runner import Event, preflight_and_plan
from dltune.bench.settings import MeasureSettings
from dltune.bench.space import Planned, Pruned, SweepSpace
from dltune.bench.trial import run_trial
from dltune.engine.config import LoaderConfig
from dltune.errors import BenchmarkError
from dltune.hardware.facts import HardwareFacts
from dltune.model import RunResult, TrialResult
from dltune.race import mean_log, settled, survivors
from dltune.store import save_run
from dltune.tune_model import StageCosts, bound, predict, promising_workers

SMALL_GRID = 10
"""Grids of at most this many configurations are measured whole: tuning would not save time."""


def _screen_settings(s: MeasureSettings) -> MeasureSettings:
    """Shorter windows than the sweep's: tuning repeats trials rather than running long ones (race.py
    judges the noise). Not much shorter: measured side by side, windows of 0.4 s and 4 batches read
    w2-b128 on the image example 10% low against full windows; 1 s and 8 batches agreed within 1%."""
    return dataclasses.replace(
        s,
        min_seconds=min(s.min_seconds, max(s.min_seconds / 2, 1.0)),
        max_seconds=min(s.max_seconds, 2.5),
        min_batches=min(s.min_batches, 8),
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


def run_tune(
    target: str,
    space: SweepSpace,
    settings: MeasureSettings,
    hardware: HardwareFacts,
    *,
    out_root: Path,
    name: str | None = None,
    on_event: Callable[[Event], None] = lambda e: None,
    trial_runner: Callable[..., TrialResult] | None = None,
    max_rounds: int = 1,
) -> tuple[RunResult, Path]:
    """Tune in one fresh interpreter (a ``trial_runner`` given replaces it, for tests)."""
    with WatchedProcess() as main_only, WatchedProcess() as with_workers:

        def shared(target: str, config: LoaderConfig, settings: MeasureSettings, **kw: Any) -> TrialResult:
            # loading in the main process leaves its allocator in another state (measured: w2-b128 on the
            # image example read ~7% low right after a num_workers=0 trial in the same interpreter), so
            # num_workers=0 trials and the preflight get an interpreter of their own
            process = main_only if config.num_workers == 0 else with_workers
            return run_trial(target, config, settings, process=process, **kw)

        run, folder, planned, pruned = preflight_and_plan(
            target, space, settings, hardware, out_root=out_root, name=name, process=main_only
        )
        runner = trial_runner or shared
        return _tune(target, run, folder, planned, pruned, settings, hardware, on_event, runner, max_rounds)


def _tune(
    target: str,
    run: RunResult,
    folder: Path,
    planned: list[Planned],
    pruned: list[Pruned],
    settings: MeasureSettings,
    hardware: HardwareFacts,
    on_event: Callable[[Event], None],
    trial_runner: Callable[..., TrialResult],
    max_rounds: int,
) -> tuple[RunResult, Path]:
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

    def finish(tuning: dict[str, Any]) -> tuple[RunResult, Path]:
        done = dataclasses.replace(run, trials=tuple(trials), tuning=tuning, complete=True)
        save_run(done, folder)
        on_event(Event("done", done, total=len(trials), folder=folder))
        return done, folder

    if len(sweep) <= SMALL_GRID:
        # a grid this small costs less to measure whole than to calibrate, screen and race
        for p in planned:
            measure(p.config, settings, p.role)
        return finish({"grid_size": len(planned), "trials": len(trials), "exhaustive": True})
    short = _screen_settings(settings)
    # 1. calibration
    c0 = _pick(sweep, num_workers=0, batch_size=mid, pinning="off") or _pick(sweep, num_workers=0)
    smallest = min((w for w in worker_choices if w > 0), default=None)
    c1 = _pick(sweep, num_workers=smallest, batch_size=mid) if smallest else None
    if c0 is None or c1 is None or smallest is None:
        raise BenchmarkError(
            "tuning needs num_workers 0 and at least one count above 0 in the space",
            "add them to --workers, or use `dltune bench` for the grid",
        )
    costs = stage_costs(measure(c0, short, "calibration"), measure(c1, short, "calibration"), smallest, cores)
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

    def screen(configs: list[LoaderConfig | None]) -> list[LoaderConfig]:
        out = list({c.key(): c for c in configs if c is not None}.values())
        for c in out:
            if c.key() not in {t.key for t in trials}:
                measure(c, short, "screen")
        return out

    def mean_rate(c: LoaderConfig) -> float:
        return mean_log(_rates(trials).get(c.key(), [0.0]))

    def race(alive: list[LoaderConfig], rounds: int) -> LoaderConfig:
        by_key = {c.key(): c for c in alive}
        keys = survivors(_rates(trials), list(by_key))
        for r in range(rounds):
            if settled(_rates(trials), keys):
                break
            for k in keys[r % len(keys) :] + keys[: r % len(keys)]:  # rotate: no one always goes first
                measure(by_key[k], short, "tune")
            keys = survivors(_rates(trials), keys)
        return by_key[keys[0]] if keys else alive[0]

    # 3a. batch sizes at the knee; 3b. the other promising worker counts at the best batch size
    at_knee = screen([config(keep_workers[0], b or None) for b in sizes])
    best_bs = max(at_knee, key=mean_rate).batch_size if at_knee else mid
    screen([config(w, best_bs) for w in keep_workers[1:]])
    # 4. the leader's neighbours get one trial: its other prefetch factors, and its other batch sizes
    #    when its worker count was not screened across batch sizes (a calibration point that leads)
    by_key = {p.config.key(): p.config for p in sweep}

    def measured_ok() -> list[LoaderConfig]:
        return sorted((by_key[k] for k in _rates(trials) if k in by_key), key=mean_rate, reverse=True)

    if not measured_ok():
        raise BenchmarkError(
            "every configuration tuning measured failed",
            "see the failures in the run (`dltune recommend --run ...`), or run the grid with `dltune bench`",
        )
    leader = measured_ok()[0]
    sizes_seen = {c.batch_size for c in measured_ok() if c.num_workers == leader.num_workers}

    def neighbour(c: LoaderConfig) -> bool:
        if c.num_workers != leader.num_workers or c.pinning != leader.pinning or c.key() == leader.key():
            return False
        if c.batch_size == leader.batch_size:
            return True
        return len(sizes_seen) == 1 and c.prefetch_factor == leader.prefetch_factor

    screen([p.config for p in sweep if neighbour(p.config)])
    # 5. race the best two measured so far (calibration included)
    winner = race(measured_ok()[:2], max_rounds)
    # DataLoader's defaults at the winner's batch size, for the report's comparison
    defaults: LoaderConfig | None = _pick(planned, num_workers=0, batch_size=winner.batch_size, pinning="off")
    if defaults is not None and defaults.key() not in {t.key for t in trials}:
        measure(defaults, short, "reference")
    return finish(
        {
            "costs": costs.to_dict(),
            "grid_size": len(planned),
            "trials": len(trials),
            "settings": short.to_dict(),
            "predictions": {
                p.config.key(): {
                    "predicted": predictions[p.config.key()],
                    "bound": bound(costs, p.config.num_workers),
                }
                for p in sweep
            },
        }
    )
