"""From a run's results to the configuration to use, and why, in numbers (pure: no torch work, no I/O).

The choice: the highest steady-state throughput within the user's constraints; configurations within
measurement noise of the best (overlapping 95% intervals, and never more than ``TIE_CAP`` slower)
count as ties, and the cheapest of those wins (fewer workers, then less memory, then less prefetch).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from dltune.engine.config import LoaderConfig
from dltune.errors import UsageError
from dltune.model import OK, RACE, RunResult, TrialResult
from dltune.race import settled
from dltune.stats import summarize
from dltune.units import human_bytes

TIE_CAP = 0.03
"""A tie is never more than 3% slower than the best, however noisy the measurements."""


@dataclass(frozen=True)
class Constraints:
    max_memory: int | None = None
    max_workers: int | None = None
    batch_size: int | None = None


@dataclass(frozen=True)
class ConfigStat:
    """One configuration's figures, pooled over its repeats."""

    key: str
    config: dict[str, Any]
    rate: float
    low: float
    high: float
    memory: int
    cpu_pct: float
    main_cpu_pct: float
    first_batch_s: float
    wait_p99_ms: float
    stall_fraction: float | None
    h2d_ms: float | None
    batch_bytes: float
    repeats: int
    role: str

    @property
    def workers(self) -> int:
        return int(self.config.get("num_workers", 0))

    @property
    def batch_size(self) -> int | None:
        return self.config.get("batch_size")


def pool(trials: Iterable[TrialResult], raced: Iterable[str] = ()) -> list[ConfigStat]:
    """Group successful trials by configuration; one repeat keeps its own interval, several pool theirs.

    The configurations in ``raced`` were measured again side by side: only those race trials count
    for them, so that they are ranked on measurements taken together, never minutes apart."""
    groups: dict[str, list[TrialResult]] = defaultdict(list)
    trials = list(trials)
    in_race = {t.key for t in trials if t.ok and t.role == RACE} & set(raced)
    for t in trials:
        if t.ok and (t.key not in in_race or t.role == RACE):
            groups[t.key].append(t)
    stats = []
    for key, ts in groups.items():
        ms = [t.metrics for t in ts if t.metrics]
        rates = [m.samples_per_s for m in ms]
        if len(rates) > 1:
            s = summarize(rates)
            rate, low, high = s.mean, s.ci_low, s.ci_high
        else:
            rate, low, high = rates[0], ms[0].samples_per_s_low, ms[0].samples_per_s_high

        def mean(values: Sequence[float]) -> float:
            return sum(values) / len(values)

        stalls = [m.stall_fraction for m in ms if m.stall_fraction is not None]
        h2d = [m.h2d_ms_per_batch for m in ms if m.h2d_ms_per_batch is not None]
        stats.append(
            ConfigStat(
                key=key,
                config=ts[0].config,
                rate=rate,
                low=low,
                high=high,
                memory=max(m.peak_pss_total for m in ms),
                cpu_pct=mean([m.cpu_main_pct + m.cpu_workers_pct for m in ms]),
                main_cpu_pct=mean([m.cpu_main_pct for m in ms]),
                first_batch_s=mean([m.first_batch_s for m in ms]),
                wait_p99_ms=mean([m.wait_p99_ms for m in ms]),
                stall_fraction=mean(stalls) if stalls else None,
                h2d_ms=mean(h2d) if h2d else None,
                batch_bytes=mean([m.batch_bytes for m in ms]),
                repeats=len(ms),
                role=ts[0].role,
            )
        )
    return sorted(stats, key=lambda s: -s.rate)


MEMORY_SLACK = 0.10
"""Memory figures within 10% (and 32 MiB) of the smallest are the same cost: measured peaks move that much
from trial to trial, and more when trials share an interpreter (tuning)."""


def cheapest(ties: Sequence[ConfigStat]) -> ConfigStat:
    """Fewest workers; then, among those, the least memory (within MEMORY_SLACK); then the least
    prefetch; then the fastest."""
    fewest = min(s.workers for s in ties)
    pool = [s for s in ties if s.workers == fewest]
    lightest = min(s.memory for s in pool)
    pool = [s for s in pool if s.memory <= lightest * (1 + MEMORY_SLACK) + (32 << 20)]
    return min(pool, key=lambda s: (s.config.get("prefetch_factor") or 0, -s.rate))


def _race_allows(race: dict[str, Any], best: ConfigStat, other: ConfigStat) -> bool:
    """When both were raced side by side, ``other`` ties with ``best`` only if the race shows its deficit
    is at most TIE_CAP plus one standard error: the cheaper of two raced configurations is chosen only
    when the race makes it likely (about 5 in 6) that it gives up at most 3%; otherwise the faster one
    is (noise is not a licence to give up throughput)."""
    rates = race.get("rates") or {}
    if other.key == best.key or best.key not in rates or other.key not in rates:
        return True
    return settled(rates, [best.key, other.key], z=1.0, within=TIE_CAP)


def is_tie(best: ConfigStat, other: ConfigStat) -> bool:
    overlap = other.high >= best.low and best.high >= other.low
    return other.rate >= best.rate * (1 - TIE_CAP) and (overlap or other.rate >= best.rate * 0.99)


@dataclass(frozen=True)
class Bottleneck:
    kind: str
    """cpu | storage | transfer | main-process | host-to-device | startup | memory | none"""
    summary: str
    evidence: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScalingPoint:
    workers: int
    rate: float
    ideal: float | None


@dataclass(frozen=True)
class Recommendation:
    target: str
    run: str
    chosen: ConfigStat
    best: ConfigStat
    ties: list[str]
    loader: dict[str, Any]
    """Exactly the keyword arguments for torch.utils.data.DataLoader."""
    code: str
    defaults: ConfigStat | None
    cores_rule: ConfigStat | None
    speedup_vs_defaults: float | None
    speedup_vs_cores_rule: float | None
    bottleneck: Bottleneck
    scaling: list[ScalingPoint]
    memory_per_worker: int | None
    usable_cores: int
    step_ms: float
    keeps_up: bool | None
    excluded: list[str]
    failures: list[str]
    considered: int
    ranked: list[ConfigStat] = field(default_factory=list)
    hardware: dict[str, Any] = field(default_factory=dict)
    predictions: list[dict[str, Any]] = field(default_factory=list)
    """With `dltune tune`: predicted vs measured samples/s for each configuration measured."""
    tuned: dict[str, Any] | None = None
    """With `dltune tune`: trials measured, the grid's size, the stage costs."""
    search: dict[str, Any] | None = None
    """How the best was found: timed stages, the worker ceiling, the side-by-side race, notes."""
    incomplete: bool = False
    """The run was interrupted: configurations it planned were never measured."""
    kind: str = "dltune.recommendation"
    schema_version: int = 1

    @property
    def loader_config(self) -> LoaderConfig:
        """The chosen configuration as a LoaderConfig (what ``dltune.build_loader`` takes)."""
        return LoaderConfig.from_dict(self.chosen.config)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _find(stats: Sequence[ConfigStat], **want: Any) -> ConfigStat | None:
    for s in stats:
        if all(s.config.get(k) == v for k, v in want.items()):
            return s
    return None


def _defaults(stats: Sequence[ConfigStat], bs: int | None) -> ConfigStat | None:
    return _find(stats, num_workers=0, batch_size=bs, pinning="off")


def _cores_rule(stats: Sequence[ConfigStat], bs: int | None, cores: int) -> ConfigStat | None:
    """num_workers = cores with DataLoader's other defaults (prefetch 2, no pinning, workers not persistent):
    the rule of thumb as usually applied. None when it was not measured: no comparison beats a wrong one."""
    return _find(
        stats, num_workers=cores, batch_size=bs, prefetch_factor=2, pinning="off", persistent_workers=False
    )


def scaling_curve(stats: Sequence[ConfigStat], chosen: ConfigStat, cores: int) -> list[ScalingPoint]:
    """Best rate per worker count at the chosen batch size, against the ideal min(w, cores) x 1-worker rate."""
    same = [
        s
        for s in stats
        if s.batch_size == chosen.batch_size and s.config.get("pinning") == chosen.config.get("pinning")
    ]
    by_w: dict[int, float] = {}
    for s in same:
        by_w[s.workers] = max(by_w.get(s.workers, 0.0), s.rate)
    one = by_w.get(1)
    # a worker that waits on storage keeps less than a core busy: the CPUs then carry cores / that many
    one_stat = next((s for s in same if s.workers == 1), None)
    per_worker = (one_stat.cpu_pct - one_stat.main_cpu_pct) / 100 if one_stat else 1.0
    fit = cores / per_worker if 0.02 < per_worker < 0.5 else cores  # clearly waiting, or CPU-bound
    return [
        ScalingPoint(w, r, (min(w, fit) * one) if one and w > 0 else None) for w, r in sorted(by_w.items())
    ]


def diagnose(
    chosen: ConfigStat,
    stats: Sequence[ConfigStat],
    scaling: Sequence[ScalingPoint],
    cores: int,
    preflight: dict[str, Any] | None,
    failures: Sequence[TrialResult],
    hardware: dict[str, Any],
) -> Bottleneck:
    """Name what limits the chosen configuration, with the numbers that show it."""
    pre = preflight or {}
    cpu_share = chosen.cpu_pct / (100 * cores)
    rate_by_w = {p.workers: p.rate for p in scaling}
    best_w = max(rate_by_w, key=lambda w: rate_by_w[w]) if rate_by_w else chosen.workers
    ev: list[str] = []
    sample_ms = pre.get("sample_s", 0) * 1000
    if sample_ms:
        ev.append(
            f"one sample takes {sample_ms:.2f} ms of __getitem__ in one process "
            f"({1000 / sample_ms:,.0f} samples/s per process at best)"
        )
    ev.append(
        f"the chosen configuration uses {chosen.cpu_pct:.0f}% CPU of {cores * 100}% usable ({cpu_share:.0%})"
    )
    mem_failures = [f for f in failures if f.status in ("memory", "shm")]

    if chosen.h2d_ms and chosen.rate:
        batch_s = (chosen.batch_size or 1) / chosen.rate
        if chosen.h2d_ms / 1000 > 0.3 * batch_s:
            gpus = hardware.get("gpus") or []
            link = gpus[0].get("link_gbps") if gpus else None
            return Bottleneck(
                "host-to-device",
                f"copying each batch to the GPU takes {chosen.h2d_ms:.1f} ms of the {1000 * batch_s:.1f} ms per batch",
                ev
                + [f"a batch is {human_bytes(chosen.batch_bytes)}"]
                + ([f"the PCIe link allows {link:.1f} GB/s"] if link else []),
                [
                    "keep images as uint8 on the host and convert/normalise on the GPU (4x fewer bytes)",
                    "use pin_memory=True (or dltune's device-prefetch) so copies overlap compute",
                ],
            )
    if chosen.workers == 0 and rate_by_w and best_w == 0:
        w0 = rate_by_w.get(0, chosen.rate)
        wn = max((r for w, r in rate_by_w.items() if w > 0), default=None)
        per_sample_bytes = chosen.batch_bytes / max(1, chosen.batch_size or 1)
        if wn is not None:
            ev.append(f"with workers the best is {wn:,.0f} samples/s against {w0:,.0f} in the main process")
        ev.append(f"a sample is {human_bytes(per_sample_bytes)}, and takes little work to make")
        return Bottleneck(
            "transfer",
            "samples are so cheap to make that passing them between processes costs more than the work: "
            "the main process alone is fastest",
            ev,
            [
                "keep num_workers=0 for this dataset",
                "or implement __getitems__ (batched fetching) so workers send one tensor per batch, not many samples",
            ],
        )
    if chosen.main_cpu_pct > 85 and chosen.workers > 0:
        return Bottleneck(
            "main-process",
            f"the main process is busy {chosen.main_cpu_pct:.0f}% of the time receiving, collating or pinning batches",
            ev,
            [
                "collate inside the workers (return whole batches via a batch_sampler + __getitems__)",
                "return fewer, larger tensors per batch (uint8 rather than float32 images)",
            ],
        )
    ideal = next((p.ideal for p in scaling if p.workers == chosen.workers and p.ideal), None)
    beyond = [p for p in scaling if p.workers > cores]
    if beyond and best_w > cores and cpu_share < 0.7:
        ev.append(
            f"throughput keeps rising past {cores} cores, up to {best_w} workers, while the CPUs are {cpu_share:.0%} busy"
        )
        return Bottleneck(
            "storage",
            "samples wait on storage or the network, not on the CPU: more workers than cores help",
            ev,
            [
                f"keep num_workers well above the core count ({best_w} measured best)",
                "read in larger chunks or concurrently inside __getitem__/__iter__ (e.g. a thread pool)",
                "cache the data closer to the machine (local disk, RAM)",
            ],
        )
    at_cores = rate_by_w.get(cores)
    if beyond and best_w > cores and at_cores and rate_by_w[best_w] > 1.2 * at_cores:
        ev.append(
            f"throughput rose from {at_cores:,.0f} samples/s at {cores} workers (the core count) to "
            f"{rate_by_w[best_w]:,.0f} at {best_w}: each worker spends most of its time waiting, not computing"
        )
        return Bottleneck(
            "storage",
            "samples wait on storage or the network: many more workers than cores hide the wait"
            + (f", until the CPUs saturate ({cpu_share:.0%} busy)" if cpu_share >= 0.8 else ""),
            ev,
            [
                f"keep num_workers well above the core count ({best_w} measured best)",
                "read in larger chunks or concurrently inside __getitem__/__iter__ (e.g. a thread pool)",
                "cache the data closer to the machine (local disk, RAM)",
            ]
            + (["then cut the CPU work per sample: the cores are now the limit"] if cpu_share >= 0.8 else []),
        )
    if cpu_share >= 0.8:
        if ideal:
            ev.append(
                f"{chosen.workers} workers reach {chosen.rate:,.0f} samples/s; the ideal line "
                f"(usable cores x 1-worker rate) is {ideal:,.0f}"
            )
        return Bottleneck(
            "cpu",
            f"per-sample CPU work saturates the {cores} usable cores: more workers cannot help",
            ev,
            [
                "do less per sample on the CPU: decode smaller images, move augmentation to the GPU",
                "keep images uint8 and convert/normalise on the GPU",
                "get more CPU cores (the loader scales with them)",
            ],
        )
    epoch_s = (pre.get("length") or 0) / chosen.rate if chosen.rate else 0.0
    if (
        chosen.workers
        and not chosen.config.get("persistent_workers")
        and epoch_s
        and chosen.first_batch_s > 0.1 * epoch_s
    ):
        ev.append(
            f"workers take {chosen.first_batch_s:.2f} s to deliver a first batch; an epoch takes {epoch_s:.2f} s"
        )
        return Bottleneck(
            "startup",
            "workers are started again every epoch, and start-up is a large share of each epoch",
            ev,
            ["set persistent_workers=True so workers live across epochs"],
        )
    if mem_failures:
        return Bottleneck(
            "memory",
            f"{len(mem_failures)} configurations ran out of memory or shared memory, limiting the choice",
            ev + [f.reason or "" for f in mem_failures[:2]],
            ["give the container more RAM / --shm-size, or lower workers x prefetch x batch size"],
        )
    return Bottleneck(
        "none",
        "no single resource is saturated: the loader is limited by Python overheads spread across stages",
        ev,
        ["try batched fetching (__getitems__) to cut per-sample overhead"],
    )


def recommend(run: RunResult, constraints: Constraints = Constraints()) -> Recommendation:
    """Choose a configuration from a run's results. Raises UsageError when nothing qualifies."""
    search = run.search or {}
    stats = pool(run.trials, (search.get("race") or {}).get("candidates", ()))
    if not stats:
        reasons = "; ".join(sorted({t.reason or t.status for t in run.trials}))[:500]
        raise UsageError(
            f"the run {run.name} has no successful trial to recommend from ({reasons or 'no trials'})",
            "fix the failures listed by `dltune bench`, then run it again",
        )
    cores = int(run.hardware.get("cpu", {}).get("usable", 1))
    batch_sizes = {s.batch_size for s in stats}
    bs = constraints.batch_size
    if bs is None and len(batch_sizes) == 1:
        bs = next(iter(batch_sizes))
    excluded: list[str] = []
    candidates = []
    for s in stats:
        why = None
        if bs is not None and s.batch_size != bs:
            why = f"batch size {s.batch_size} (fixed to {bs})"
        elif constraints.max_workers is not None and s.workers > constraints.max_workers:
            why = f"{s.workers} workers > --max-workers {constraints.max_workers}"
        elif constraints.max_memory is not None and s.memory > constraints.max_memory:
            why = f"{human_bytes(s.memory)} > --max-memory {human_bytes(constraints.max_memory)}"
        if why:
            excluded.append(f"{s.key}: {why}")
        else:
            candidates.append(s)
    if not candidates:
        raise UsageError(
            "no measured configuration meets the constraints",
            "relax --max-memory / --max-workers, or bench the batch size you need",
        )
    best = candidates[0]
    race = search.get("race") or {}
    ties = [s for s in candidates if is_tie(best, s) and _race_allows(race, best, s)]
    chosen = cheapest(ties)
    ref_bs = chosen.batch_size
    defaults = _defaults(stats, ref_bs)
    cores_rule = _cores_rule(stats, ref_bs, cores)
    failures = [t for t in run.trials if t.status != OK]
    scaling = scaling_curve(stats, chosen, cores)
    step_ms = float(run.settings.get("step_ms", 0) or 0)
    keeps_up = None
    if step_ms and chosen.stall_fraction is not None:
        keeps_up = chosen.stall_fraction < 0.05
    cfg = LoaderConfig.from_dict(chosen.config)
    return Recommendation(
        target=run.target,
        run=run.name,
        chosen=chosen,
        best=best,
        ties=[s.key for s in ties if s.key != chosen.key],
        loader=cfg.loader_kwargs(),
        code=cfg.to_code(from_file=tuple((run.preflight or {}).get("from_file", ()))),
        defaults=defaults,
        cores_rule=cores_rule,
        speedup_vs_defaults=chosen.rate / defaults.rate if defaults and defaults.rate else None,
        speedup_vs_cores_rule=chosen.rate / cores_rule.rate if cores_rule and cores_rule.rate else None,
        bottleneck=diagnose(chosen, stats, scaling, cores, run.preflight, failures, run.hardware),
        scaling=scaling,
        memory_per_worker=int(chosen.memory / chosen.workers) if chosen.workers else None,
        usable_cores=cores,
        step_ms=step_ms,
        keeps_up=keeps_up,
        excluded=excluded,
        failures=[f"{t.key}: {t.status}: {t.reason}" for t in failures],
        considered=len(candidates),
        ranked=stats,
        hardware=run.hardware,
        predictions=_predictions(run, stats),
        tuned={k: v for k, v in run.tuning.items() if k != "predictions"} if run.tuning else None,
        search=search or None,
        incomplete=not run.complete,
    )


def _predictions(run: RunResult, stats: Sequence[ConfigStat]) -> list[dict[str, Any]]:
    preds = (run.tuning or {}).get("predictions", {})
    rows = []
    for s in stats:
        p = preds.get(s.key)
        if p:
            rows.append(
                {
                    "key": s.key,
                    "predicted": p["predicted"],
                    "measured": s.rate,
                    "bound": p["bound"],
                    "error": p["predicted"] / s.rate - 1 if s.rate else None,
                }
            )
    return rows


def recommendation_from_dict(d: dict[str, Any]) -> Recommendation:
    """Inverse of ``Recommendation.to_dict`` (for ``dltune.load_recommendation``)."""

    def stat(x: dict[str, Any] | None) -> ConfigStat | None:
        return ConfigStat(**x) if x else None

    d = dict(d)
    for k in ("chosen", "best", "defaults", "cores_rule"):
        d[k] = stat(d.get(k))
    d["bottleneck"] = Bottleneck(**d["bottleneck"])
    d["scaling"] = [ScalingPoint(**p) for p in d.get("scaling", [])]
    d["ranked"] = [ConfigStat(**s) for s in d.get("ranked", [])]
    return Recommendation(**d)


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
