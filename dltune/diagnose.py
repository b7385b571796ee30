"""What limits the chosen configuration, with the numbers that show it: an ordered list of rules (pure).

Each rule looks at the same facts (``Case``) and either names a bottleneck or passes; the first rule
that names one wins, so the order is the order of precedence (a GPU copy that takes a third of the
batch time explains more than busy CPUs do). Add a rule by writing a function and placing it in
``RULES``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dltune.model.hardware import HardwareFacts
from dltune.model.preflight import Preflight
from dltune.model.recommendation import Bottleneck, ConfigStat, ScalingPoint
from dltune.model.results import MEMORY, SHM, TrialResult
from dltune.units import human_bytes

STORAGE_STEPS = [
    "read in larger chunks or concurrently inside __getitem__/__iter__ (e.g. a thread pool)",
    "cache the data closer to the machine (local disk, RAM)",
]


@dataclass(frozen=True)
class Case:
    """The facts every rule reads."""

    chosen: ConfigStat
    scaling: Sequence[ScalingPoint]
    cores: int
    preflight: Preflight | None = None
    failures: Sequence[TrialResult] = ()
    hardware: HardwareFacts | None = None
    evidence: tuple[str, ...] = field(default=())
    """Shared first lines of evidence: the per-sample cost and the CPU share."""

    @property
    def cpu_share(self) -> float:
        return self.chosen.cpu_pct / (100 * self.cores)

    @property
    def rate_by_workers(self) -> dict[int, float]:
        return {p.workers: p.rate for p in self.scaling}

    @property
    def best_workers(self) -> int:
        by_w = self.rate_by_workers
        return max(by_w, key=lambda w: by_w[w]) if by_w else self.chosen.workers


Rule = Callable[[Case], Bottleneck | None]


def host_to_device(case: Case) -> Bottleneck | None:
    c = case.chosen
    if not (c.h2d_ms and c.rate):
        return None
    batch_s = (c.batch_size or 1) / c.rate
    if c.h2d_ms / 1000 <= 0.3 * batch_s:
        return None
    gpus = case.hardware.gpus if case.hardware else ()
    link = gpus[0].link_gbps if gpus else None
    return Bottleneck(
        "host-to-device",
        f"copying each batch to the GPU takes {c.h2d_ms:.1f} ms of the {1000 * batch_s:.1f} ms per batch",
        [*case.evidence, f"a batch is {human_bytes(c.batch_bytes)}"]
        + ([f"the PCIe link allows {link:.1f} GB/s"] if link else []),
        [
            "keep images as uint8 on the host and convert/normalise on the GPU (4x fewer bytes)",
            "use pin_memory=True (or dltune's device-prefetch) so copies overlap compute",
        ],
    )


def transfer(case: Case) -> Bottleneck | None:
    c, by_w = case.chosen, case.rate_by_workers
    if not (c.workers == 0 and by_w and case.best_workers == 0):
        return None
    ev = list(case.evidence)
    w0 = by_w.get(0, c.rate)
    wn = max((r for w, r in by_w.items() if w > 0), default=None)
    if wn is not None:
        ev.append(f"with workers the best is {wn:,.0f} samples/s against {w0:,.0f} in the main process")
    ev.append(
        f"a sample is {human_bytes(c.batch_bytes / max(1, c.batch_size or 1))}, and takes little work to make"
    )
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


def main_process(case: Case) -> Bottleneck | None:
    c = case.chosen
    if not (c.main_cpu_pct > 85 and c.workers > 0):
        return None
    return Bottleneck(
        "main-process",
        f"the main process is busy {c.main_cpu_pct:.0f}% of the time receiving, collating or pinning batches",
        list(case.evidence),
        [
            "collate inside the workers (return whole batches via a batch_sampler + __getitems__)",
            "return fewer, larger tensors per batch (uint8 rather than float32 images)",
        ],
    )


def idle_workers(case: Case) -> Bottleneck | None:
    """Workers that made no batch: the dataset hands out less work at once than there are workers."""
    c = case.chosen
    if not (c.workers and c.fed_workers is not None and c.fed_workers < c.workers):
        return None
    fed, idle = c.fed_workers, c.workers - c.fed_workers
    return Bottleneck(
        "parallelism",
        f"the dataset feeds only {fed} of the {c.workers} workers: more workers cannot help",
        [
            *case.evidence,
            f"{idle} of the {c.workers} workers made no batch in any trial of this configuration",
            "an IterableDataset splits its stream into fewer shards than there are workers, or an epoch holds "
            "fewer batches than workers (each epoch hands its batches out from worker 0 on)",
        ],
        [
            f"set num_workers={fed}: the idle workers only cost memory and start-up",
            "an IterableDataset: split the stream into at least as many shards as workers (in __iter__, by "
            "torch.utils.data.get_worker_info()); a map-style one: more batches per epoch (a smaller batch "
            "size), so that more workers have work to do",
        ],
    )


def storage_idle_cpus(case: Case) -> Bottleneck | None:
    """Throughput rises past the core count while the CPUs stay mostly idle."""
    best_w, cores = case.best_workers, case.cores
    beyond = any(p.workers > cores for p in case.scaling)
    if not (beyond and best_w > cores and case.cpu_share < 0.7):
        return None
    return Bottleneck(
        "storage",
        "samples wait on storage or the network, not on the CPU: more workers than cores help",
        [
            *case.evidence,
            f"throughput keeps rising past {cores} cores, up to {best_w} workers, "
            f"while the CPUs are {case.cpu_share:.0%} busy",
        ],
        [f"keep num_workers well above the core count ({best_w} measured best)", *STORAGE_STEPS],
    )


def storage_hidden_by_workers(case: Case) -> Bottleneck | None:
    """Many more workers than cores beat the core count by a clear margin: the wait is hidden by them."""
    best_w, cores, by_w = case.best_workers, case.cores, case.rate_by_workers
    at_cores = by_w.get(cores)
    beyond = any(p.workers > cores for p in case.scaling)
    if not (beyond and best_w > cores and at_cores and by_w[best_w] > 1.2 * at_cores):
        return None
    saturated = case.cpu_share >= 0.8
    return Bottleneck(
        "storage",
        "samples wait on storage or the network: many more workers than cores hide the wait"
        + (f", until the CPUs saturate ({case.cpu_share:.0%} busy)" if saturated else ""),
        [
            *case.evidence,
            f"throughput rose from {at_cores:,.0f} samples/s at {cores} workers (the core count) to "
            f"{by_w[best_w]:,.0f} at {best_w}: each worker spends most of its time waiting, not computing",
        ],
        [f"keep num_workers well above the core count ({best_w} measured best)", *STORAGE_STEPS]
        + (["then cut the CPU work per sample: the cores are now the limit"] if saturated else []),
    )


def cpu(case: Case) -> Bottleneck | None:
    c = case.chosen
    if case.cpu_share < 0.8:
        return None
    ideal = next((p.ideal for p in case.scaling if p.workers == c.workers and p.ideal), None)
    ev = list(case.evidence)
    if ideal:
        ev.append(
            f"{c.workers} workers reach {c.rate:,.0f} samples/s; the ideal line "
            f"(usable cores x 1-worker rate) is {ideal:,.0f}"
        )
    return Bottleneck(
        "cpu",
        f"per-sample CPU work saturates the {case.cores} usable cores: more workers cannot help",
        ev,
        [
            "do less per sample on the CPU: decode smaller images, move augmentation to the GPU",
            "keep images uint8 and convert/normalise on the GPU",
            "get more CPU cores (the loader scales with them)",
        ],
    )


def startup(case: Case) -> Bottleneck | None:
    c = case.chosen
    length = case.preflight.length if case.preflight else None
    epoch_s = (length or 0) / c.rate if c.rate else 0.0
    if not (c.workers and not c.config.persistent_workers and epoch_s and c.first_batch_s > 0.1 * epoch_s):
        return None
    return Bottleneck(
        "startup",
        "workers are started again every epoch, and start-up is a large share of each epoch",
        [
            *case.evidence,
            f"workers take {c.first_batch_s:.2f} s to deliver a first batch; an epoch takes {epoch_s:.2f} s",
        ],
        ["set persistent_workers=True so workers live across epochs"],
    )


def memory(case: Case) -> Bottleneck | None:
    failed = [f for f in case.failures if f.status in (MEMORY, SHM)]
    if not failed:
        return None
    return Bottleneck(
        "memory",
        f"{len(failed)} configurations ran out of memory or shared memory, limiting the choice",
        [*case.evidence, *(f.reason or "" for f in failed[:2])],
        ["give the container more RAM / --shm-size, or lower workers x prefetch x batch size"],
    )


RULES: tuple[Rule, ...] = (
    host_to_device,
    transfer,
    main_process,
    idle_workers,
    storage_idle_cpus,
    storage_hidden_by_workers,
    cpu,
    startup,
    memory,
)


def evidence(chosen: ConfigStat, cores: int, preflight: Preflight | None) -> tuple[str, ...]:
    lines = []
    sample_ms = (preflight.sample_s if preflight else 0.0) * 1000
    if sample_ms:
        lines.append(
            f"one sample takes {sample_ms:.2f} ms of __getitem__ in one process "
            f"({1000 / sample_ms:,.0f} samples/s per process at best)"
        )
    lines.append(
        f"the chosen configuration uses {chosen.cpu_pct:.0f}% CPU of {cores * 100}% usable "
        f"({chosen.cpu_pct / (100 * cores):.0%})"
    )
    return tuple(lines)


def diagnose(
    chosen: ConfigStat,
    scaling: Sequence[ScalingPoint],
    cores: int,
    preflight: Preflight | None = None,
    failures: Sequence[TrialResult] = (),
    hardware: HardwareFacts | None = None,
) -> Bottleneck:
    """Name what limits the chosen configuration: the first rule in RULES that applies."""
    case = Case(chosen, scaling, cores, preflight, failures, hardware, evidence(chosen, cores, preflight))
    for rule in RULES:
        found = rule(case)
        if found is not None:
            return found
    return Bottleneck(
        "none",
        "no single resource is saturated: the loader is limited by Python overheads spread across stages",
        list(case.evidence),
        ["try batched fetching (__getitems__) to cut per-sample overhead"],
    )
