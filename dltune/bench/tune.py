"""Adaptive tuning: find the best configuration wherever it is, measuring a fraction of the grid.

Named stages, each timed (the report shows where the time went):
1. **calibrate**: num_workers=0 and the smallest worker count at the middle batch size; the
   stage-cost model (dltune.tune_model) predicts every worker count from them, and the measured
   memory per worker, /dev/shm per worker and the machine's limits give the search's ceiling
   (dltune.bench.ceiling).
2. **main-process** (when the model predicts that num_workers=0 wins clearly): batch sizes at 0
   workers and one check of the best worker count; nothing else can win.
3. **workers**: the promising worker counts, then climb (dltune.search): past the largest measured
   count while throughput still rises (with ``workers = "auto"`` the axis is open-ended: doubling up
   to the ceiling, which names the limit that stopped it), down when the smallest measured leads,
   down to the knee when far fewer workers could match the best, and between the best and its
   better neighbour when they are far apart. A trial whose dataset fed fewer workers than it had
   (dltune.bench.fed) caps the climb at that count, which is measured; more workers are never chosen.
4. **batch-size** and **prefetch**: the leader's other batch sizes and prefetch depths, one trial each.
5. **race** (dltune.bench.confirm): the candidates too close to rank from separate trials (and the
   cheapest close one) are measured again side by side, interleaved: at least two rounds, then more
   (up to ``max_rounds``) while they are still too close to rank and the race has spent less trial time
   than the search before it.
6. **reference**: DataLoader's defaults at the winner's batch size, for the report's comparison (with
   ranks also every rank with num_workers = cores, the naive node setup).
A fixed batch size, ``--max-workers`` and ``--max-memory`` shape what is measured, not only what is
chosen. Each trial's window grows until its interval is precise enough to rank (or a short cap), and
trials run one after another in two fresh interpreters (one for num_workers=0, whose loading in the
main process changes its allocator's state, one for worker configurations), which re-import the
dataset file for each trial. The result is an ordinary run (recommend and the reports read it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dltune.bench.ceiling import Ceiling, ladder
from dltune.bench.child import READY_JOB, WatchedProcess
from dltune.bench.climb import climb, edge_notes, fed_ceiling, measured_ceiling
from dltune.bench.confirm import close_to_best, race
from dltune.bench.events import Event
from dltune.bench.ranks import run_node_trial
from dltune.bench.recorder import Recorder
from dltune.bench.runner import preflight_and_plan
from dltune.bench.shard_memory import measure_sharding
from dltune.bench.space import Planned
from dltune.bench.trial import memory_budget, run_trial
from dltune.errors import BenchmarkError
from dltune.model import (
    REFERENCE_CORES,
    REFERENCE_DEFAULTS,
    REFERENCE_SINGLE,
    CeilingRecord,
    HardwareFacts,
    LoaderConfig,
    MeasureSettings,
    Prediction,
    RaceRecord,
    RunResult,
    Search,
    SweepSpace,
    TrialResult,
    Tuning,
)
from dltune.race import CLOSE, geo_mean
from dltune.store import locked
from dltune.tune_model import StageCosts, bound, predict, promising_workers

SMALL_GRID = 6
"""Grids of at most this many configurations are measured whole: tuning would not save time."""
MAIN_WINS = 1.3
"""num_workers=0 predicted this much faster than any worker count: only batch sizes are left to search."""
SATURATED = 0.85
"""Share of the usable cores in use above which the CPU, not queue depth, limits throughput."""
RACE_SHARE = 1.0
"""The race may spend as much trial time as the search before it: where trials are cheap it runs until
the close candidates are ranked (or provably equivalent), where each costs tens of seconds it stops after
its first two rounds rather than double the tuning time."""
CALIBRATION_PRECISION = 0.08
"""Calibration windows end at this half-width (where screens need 4%): the model they feed predicts within
5-27% of what is then measured (image example), and they only choose where the search starts; a 4% window
of epoch-long segments took 11-15 s there."""
MAX_STEPS = 8
"""Worker counts the climb may add (each step doubles or halves a gap: 8 reach 256x)."""


def screen_settings(s: MeasureSettings) -> MeasureSettings:
    """Shorter windows than a sweep's, stopped by precision (4%) within a 3 s cap: tuning repeats
    trials side by side (the race) rather than running long ones. Not too short: windows of 0.4 s and
    4 batches read w2-b128 on the image example 10% low against full windows."""
    return dataclasses.replace(
        s,
        min_seconds=min(s.min_seconds, 0.75),
        max_seconds=min(s.max_seconds, 3.0),
        min_batches=min(s.min_batches, 8),
        segments=min(s.segments, 6),
        precision=max(s.precision, 0.04) if s.precision else 0.04,
    )


def stage_costs(
    w0: TrialResult, w1: TrialResult, workers_in_w1: int, cores: int, *, world: int = 1, per_machine: int = 1
) -> StageCosts:
    """The model's costs for one loader. With ranks, the trials measured ``world`` loaders at once
    (``per_machine`` of them on each machine): their node rate and CPU are shared out per rank, and each
    rank's loader gets its share of the machine's cores. Predictions are then per rank (dltune.tune_model);
    the node delivers ``world`` x that."""
    if not (w0.ok and w1.ok and w0.metrics and w1.metrics):
        bad = w0 if not w0.ok else w1
        raise BenchmarkError(f"calibration trial {bad.key} failed: {bad.status}: {bad.reason}", bad.hint)
    m0, m1 = w0.metrics, w1.metrics
    per_worker = m1.samples_per_s / world / workers_in_w1
    worker_cpu = (
        (m1.cpu_workers_pct / 100) / (world * workers_in_w1)
        if m1.cpu_workers_pct == m1.cpu_workers_pct
        else 1.0
    )
    main = (
        (m1.cpu_main_pct / 100) / m1.samples_per_s
        if m1.samples_per_s and m1.cpu_main_pct == m1.cpu_main_pct
        else 0
    )
    return StageCosts(
        m0.samples_per_s / world, per_worker, max(worker_cpu, 0.01), main, max(1, cores // per_machine)
    )


def _rate(trials: Iterable[TrialResult], key: str) -> float:
    """Geometric mean of a configuration's successful measurements; 0 when it has none."""
    return geo_mean([t.metrics.samples_per_s for t in trials if t.key == key and t.ok and t.metrics])


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
    max_rounds: int = 4,
) -> tuple[RunResult, Path]:
    """Tune in fresh interpreters (a ``trial_runner`` given replaces them, for tests). With ranks
    (``settings.ranked``) every trial starts them all under torch.distributed's launcher
    (dltune.bench.ranks) and the model plans each rank's loader on its share of the machine."""
    if settings.ranked and trial_runner is None:
        trial_runner = run_node_trial
    with WatchedProcess() as main_only, WatchedProcess() as with_workers:
        # both interpreters boot at once (an import of torch each, about 2 s on the 2-core development
        # VM), and the one for worker configurations has booted before anything is timed: an import
        # beside the preflight or a trial would slow part of its window (seen once on the tiny dataset:
        # a num_workers=0 calibration window that began beside that boot ran 8 s to its loosened target,
        # against about 1 s otherwise)
        main_only.start()
        if trial_runner is None:
            limit, reserve = memory_budget(settings)
            with_workers.start()
            with_workers.run(READY_JOB, {}, timeout_s=settings.timeout_s, memory_limit=limit, reserve=reserve)

        def shared(target: str, config: LoaderConfig, settings: MeasureSettings, **kw: Any) -> TrialResult:
            # loading in the main process leaves its allocator in another state (measured: w2-b128 on the
            # image example read ~7% low right after a num_workers=0 trial in the same interpreter), so
            # num_workers=0 trials and the preflight get an interpreter of their own
            process = main_only if config.num_workers == 0 else with_workers
            return run_trial(target, config, settings, process=process, **kw)

        run, folder, planned, pruned = preflight_and_plan(
            target, space, settings, hardware, out_root=out_root, name=name, process=main_only
        )
        rec = Recorder(target, run, folder, trial_runner or shared, on_event, hardware.memory.shm_free)
        on_event(Event("planned", run, total=0, pruned=tuple(pruned), folder=folder))
        with locked(folder):
            return Tuner(rec, space, planned, settings, hardware, max_rounds).tune()


@dataclasses.dataclass
class Tuner:
    rec: Recorder
    space: SweepSpace
    planned: list[Planned]
    settings: MeasureSettings
    hardware: HardwareFacts
    max_rounds: int = 4
    """Race rounds at most; past two, a round is run only while the candidates are too close to rank and
    the race stays within RACE_SHARE of the search's time."""

    def __post_init__(self) -> None:
        self.sweep = [p.config for p in self.planned if p.role == "sweep"]
        if not self.sweep:
            raise BenchmarkError(
                "nothing left to measure: every configuration was dropped",
                "see the dropped configurations above and widen the space",
            )
        self.short = screen_settings(self.settings)
        self.open_ended = isinstance(self.space.workers, str)
        self.sizes = sorted({c.batch_size or 0 for c in self.sweep})
        self.prefetches = sorted({c.prefetch_factor or 2 for c in self.sweep if c.num_workers})
        self.worker_axis = sorted({c.num_workers for c in self.sweep})
        # the configuration every generated one copies its other fields from
        self.template = next((c for c in self.sweep if c.num_workers), self.sweep[0])
        self.extra: dict[str, LoaderConfig] = {}
        """Configurations the open-ended climb added beyond the planned space."""
        self.notes: list[str] = []
        self.calibrated: TrialResult | None = None
        """The calibration trial with workers: its memory per worker sets the search's ceiling."""
        self.world = self.settings.nproc_per_node * self.settings.nnodes
        """Loaders every trial measures at once (1 without ranks): predictions are per loader."""

    # ------------------------------------------------------------------ configurations and figures

    def config(self, workers: int, batch: int | None, pf: int | None = None) -> LoaderConfig | None:
        """The planned configuration with these values (or, past the planned worker counts on an
        open-ended axis, the template with them)."""
        want: dict[str, Any] = {"num_workers": workers, "batch_size": batch or None}
        if workers:
            want["prefetch_factor"] = pf or self.prefetches[0]
        for c in self.sweep:
            if all(getattr(c, k) == v for k, v in want.items()):
                return c
        if workers and self.open_ended and workers not in self.worker_axis:
            cfg = dataclasses.replace(
                self.template,
                num_workers=workers,
                batch_size=batch or None,
                prefetch_factor=want["prefetch_factor"],
            )
            self.extra[cfg.key()] = cfg
            return cfg
        return None

    def known(self) -> dict[str, LoaderConfig]:
        return {c.key(): c for c in self.sweep} | self.extra

    def rate(self, cfg: LoaderConfig) -> float:
        return _rate(self.rec.trials, cfg.key())

    def measure(self, cfg: LoaderConfig | None, role: str) -> None:
        """One trial; a screening trial is ranked against the leader (it may stop once clearly behind it;
        clearly ahead, it is the new leader and is measured to its precision), a calibration trial needs only
        ``CALIBRATION_PRECISION``."""
        if cfg is not None and not self.rec.measured(cfg.key()):
            settings = self.short
            lead = self.best_measured() if role == "screen" else None
            if lead is not None:
                settings = dataclasses.replace(settings, rank_against=self.rate(lead))
            if role == "calibration":
                settings = dataclasses.replace(
                    settings, precision=max(settings.precision, CALIBRATION_PRECISION)
                )
            self.rec.measure(cfg, settings, role)

    def leader(self) -> LoaderConfig:
        known = self.eligible()
        # in the order first measured: an exact tie goes the same way on every run (a set's order does not)
        measured = [known[k] for k in dict.fromkeys(t.key for t in self.rec.trials if t.ok) if k in known]
        if not measured:
            raise BenchmarkError(
                "every configuration tuning measured failed",
                "see the failures in the run (`dltune recommend --run ...`), or run the grid with `dltune bench`",
            )
        return max(measured, key=self.rate)

    # ------------------------------------------------------------------ stages

    def tune(self) -> tuple[RunResult, Path]:
        rec = self.rec
        if len(self.sweep) <= SMALL_GRID and not self.open_ended:
            with rec.stage("grid"):
                for p in self.planned:
                    self.measure(p.config, p.role)
            return self.finish(None, None, exhaustive=True)
        mid = self.sizes[len(self.sizes) // 2] or None
        with rec.stage("calibrate"):
            costs = self.calibrate(mid)
        ceiling = self.ceiling()
        predicted_best = max(predict(costs, w) for w in self.candidate_workers(ceiling) if w > 0)
        if 0 in self.worker_axis and costs.r0 >= MAIN_WINS * predicted_best:
            with rec.stage("main-process"):
                for b in self.sizes:
                    self.measure(self.config(0, b or None), "screen")
                best_w = max(
                    (w for w in self.candidate_workers(ceiling) if w > 0), key=lambda w: predict(costs, w)
                )
                self.measure(self.config(best_w, self.leader().batch_size), "screen")
        else:
            with rec.stage("workers"):
                self.climb(costs, mid)
            lead = self.leader()
            if len(self.sizes) > 1:
                with rec.stage("batch-size"):
                    for b in self.sizes:
                        self.measure(self.config(lead.num_workers, b or None, lead.prefetch_factor), "screen")
                    if self.moved(lead):  # the worker optimum may move with it
                        self.climb(costs, self.leader().batch_size, steps=2)
            lead = self.leader()
            if lead.num_workers and len(self.prefetches) > 1 and not self.cpu_saturated(lead):
                with rec.stage("prefetch"):
                    for pf in self.prefetches:
                        # not past what this depth's batches in flight allow: a deeper depth whose ceiling
                        # lies below the leader's count is measured at that ceiling, not left unmeasured
                        workers = min(lead.num_workers, self.ceiling(pf).workers)
                        if workers > 0:
                            self.measure(self.config(workers, lead.batch_size, pf), "screen")
                    after = self.leader()
                    if self.moved(lead):  # deeper queues move the worker optimum
                        self.climb(costs, after.batch_size, steps=2, pf=after.prefetch_factor)
        race_record = None
        contenders = close_to_best(rec.trials, self.eligible(), most=2)
        if len(contenders) > 1:
            with rec.stage("race"):
                searched = sum(t.duration_s for t in rec.trials)
                race_record = race(
                    rec,
                    contenders,
                    self.short,
                    max_rounds=self.max_rounds,
                    budget_s=RACE_SHARE * searched,
                    reserve=self.eligible(),
                )
        winner = self.known()[race_record.winner] if race_record else self.leader()
        with rec.stage("reference"):
            for role, cfg in self.references(winner):
                self.measure(cfg, role)
        fed = self.fed(winner.batch_size)
        ceiling = self.ceiling(winner.prefetch_factor)
        return self.finish(
            costs, fed if fed and fed.workers < ceiling.workers else ceiling, race_record=race_record
        )

    def moved(self, before: LoaderConfig) -> bool:
        """Whether the leader changed from ``before`` by more than screens can rank (``CLOSE``): then the
        worker optimum may have moved with the new batch size or prefetch depth, and the climb looks again
        around it. A lead within that is noise as often as not (measured on the latency case: prefetch 4
        screened 1.5% ahead of 2 at 32 workers, and the climb at prefetch 4 that followed cost 38 s for
        three worker counts that all read lower); the race settles such a pair side by side."""
        after = self.leader()
        return after.key() != before.key() and self.rate(after) > (1 + CLOSE) * self.rate(before)

    def best_measured(self) -> LoaderConfig | None:
        """The leader, or None when nothing measured succeeded (the run then says why)."""
        try:
            return self.leader()
        except BenchmarkError:
            return None

    def references(self, winner: LoaderConfig) -> list[tuple[str, LoaderConfig | None]]:
        """The configurations the report compares with, at the winner's batch size: DataLoader's
        defaults (num_workers=0); with ranks also the naive node setup (every rank with num_workers =
        cores) and, when an earlier run tuned this file as one loader, its recommendation on every rank."""

        def planned(workers: int) -> LoaderConfig | None:
            return next(
                (
                    p.config
                    for p in self.planned
                    if p.config.num_workers == workers
                    and p.config.batch_size == winner.batch_size
                    and p.config.pinning == "off"
                    and (workers == 0 or p.config.prefetch_factor in (None, 2))
                    and not p.config.persistent_workers
                ),
                None,
            )

        out = [(REFERENCE_DEFAULTS, planned(0))]
        if self.world > 1:
            out.append((REFERENCE_CORES, planned(self.hardware.cpu.usable)))
            single = self.rec.run.single_loader
            out += [(REFERENCE_SINGLE, p.config) for p in self.planned if p.config.key() == single][:1]
        return out

    def cpu_saturated(self, cfg: LoaderConfig) -> bool:
        """A deeper prefetch queue only helps when workers sit idle while the main process waits; with
        the usable cores busy (85%+) and no more workers than cores, every worker is computing and there
        is no idle CPU for it to use, so it is not measured. More workers than cores lead only when they
        wait (on storage, on a slow sample), and then how far they may run ahead matters: measured on the
        latency example, 64 workers with prefetch 4 beat prefetch 2 by 6% side by side, the cores 85% busy."""
        m = next((t.metrics for t in self.rec.trials if t.key == cfg.key() and t.ok and t.metrics), None)
        usable = self.hardware.cpu.usable
        if m is None or cfg.num_workers * self.settings.nproc_per_node > usable:
            return False
        used = (m.cpu_main_pct + m.cpu_workers_pct) / 100 / self.settings.nnodes  # on each machine
        saturated = used >= SATURATED * usable
        if saturated:
            self.notes.append(
                f"prefetch_factor was not varied: {cfg.key()} kept {used:.1f} of {usable} "
                "usable cores busy with no more workers than cores, so a deeper queue has no idle CPU to use"
            )
        return saturated

    def calibrate(self, mid: int | None) -> StageCosts:
        smallest = min((w for w in self.worker_axis if w > 0), default=None)
        c0 = self.config(0, mid) or next((c for c in self.sweep if c.num_workers == 0), None)
        c1 = self.config(smallest, mid) if smallest else None
        if c0 is None or c1 is None or smallest is None:
            raise BenchmarkError(
                "tuning needs num_workers 0 and at least one count above 0 in the space",
                "add them to --workers, or use `dltune bench` for the grid",
            )
        self.measure(c0, "calibration")
        self.measure(c1, "calibration")
        t0 = next(t for t in self.rec.trials if t.key == c0.key())
        t1 = next(t for t in self.rec.trials if t.key == c1.key())
        costs = stage_costs(
            t0,
            t1,
            smallest,
            self.hardware.cpu.usable,
            world=self.world,
            per_machine=self.settings.nproc_per_node,
        )
        self.calibrated = t1
        return costs

    def ceiling(self, prefetch: int | None = None) -> Ceiling:
        """The worker ceiling from the calibration trial, for batches of the largest size ``prefetch`` deep
        per worker (by default the shallowest in the space: the /dev/shm and open files a worker's batches
        in flight take grow with the depth, so each depth's climb has its own)."""
        assert self.calibrated is not None, "calibrate first"
        return measured_ceiling(
            self.hardware,
            self.calibrated,
            self.settings,
            preflight=self.rec.run.preflight,
            batch_size=max(self.sizes) or None,
            prefetch=prefetch or min(self.prefetches or [2]),
            max_workers=self.space.max_workers,
        )

    def candidate_workers(self, ceiling: Ceiling) -> list[int]:
        """The worker counts the search may measure: the planned ones, and on an open-ended axis the
        doubling ladder past them up to the ceiling."""
        planned = [w for w in self.worker_axis if w <= ceiling.workers]
        if not self.open_ended:
            return planned
        top = max(planned, default=1)
        return sorted({*planned, *ladder(top, ceiling.workers)})

    def climb(
        self, costs: StageCosts, batch: int | None, steps: int = MAX_STEPS, pf: int | None = None
    ) -> None:
        """Measure the promising worker counts, then step (dltune.search) until nothing could change the
        answer, within the ceiling of prefetch ``pf`` (the shallowest by default). Where a trial shows the
        dataset feeds fewer workers than it had (``fed``), that count is measured and the climb goes no higher."""
        pf = pf or (self.prefetches[0] if self.prefetches else None)
        promising: list[int] | None = None
        rates: dict[int, float] = {}
        for _ in range(3):  # the fed count lowers the ceiling at most once or twice
            fed = self.fed(batch)
            ceiling = self.ceiling(pf)
            if fed is not None and fed.workers < ceiling.workers:
                ceiling = fed
                self.measure(self.config(fed.workers, batch, pf), "search-fed")
            top = ceiling.workers

            def make(w: int, top: int = top) -> LoaderConfig | None:
                return self.config(w, batch, pf) if w <= top else None

            axis = self.candidate_workers(ceiling)
            if promising is None:
                promising = [w for w in promising_workers(costs, axis, most=2) if w]
            for w in promising:
                self.measure(make(w), "screen")
                if self.fed(batch) != fed:
                    break
            if self.fed(batch) != fed:
                continue
            rates = climb(
                self.rec,
                make,
                [w for w in axis if w > 0],
                self.short,
                allowed=None if self.open_ended else self.worker_axis,
                ceiling=top,
                steps=steps,
                rank=True,
            )
            if self.fed(batch) == fed:
                self.notes += edge_notes(rates, ceiling, self.open_ended)
                return

    def fed(self, batch: int | None) -> Ceiling | None:
        """The most workers the dataset fed at this batch size, where a trial had more (``fed_ceiling``)."""
        return fed_ceiling(self.rec.trials, batch)

    def dominated(self, cfg: LoaderConfig) -> bool:
        """More workers than the dataset feeds, where the fed count at the same batch size and depth was
        measured: the same work with idle processes more, never the one to choose or race."""
        fed = self.fed(cfg.batch_size)
        if fed is None or cfg.num_workers <= fed.workers:
            return False
        twin = self.config(fed.workers, cfg.batch_size, cfg.prefetch_factor)
        return twin is not None and self.rate(twin) > 0

    def eligible(self) -> dict[str, LoaderConfig]:
        """The known configurations less the dominated ones."""
        return {k: c for k, c in self.known().items() if not self.dominated(c)}

    def finish(
        self,
        costs: StageCosts | None,
        ceiling: Ceiling | None,
        *,
        race_record: RaceRecord | None = None,
        exhaustive: bool = False,
    ) -> tuple[RunResult, Path]:
        winner = self.known().get(race_record.winner) if race_record else self.best_measured()
        tuning = Tuning(grid_size=len(self.planned), trials=len(self.rec.trials), exhaustive=exhaustive)
        if costs is not None:
            predictions = {
                k: Prediction(self.world * predict(costs, c.num_workers), bound(costs, c.num_workers))
                for k, c in self.known().items()
                if self.rec.measured(k)
            }
            tuning = dataclasses.replace(tuning, costs=costs, settings=self.short, predictions=predictions)
        sharding = measure_sharding(self.rec, winner, self.short) if winner is not None else None
        search = Search(
            stages=tuple(self.rec.stages),
            notes=tuple(self.notes),
            ceiling=CeilingRecord(ceiling.workers, ceiling.limit) if ceiling else None,
            race=race_record,
        )
        return self.rec.finish(tuning=tuning, search=search, sharding=sharding)
