"""The data objects at the seams: a trial's result and a run's result.

Measuring produces these; recommend, report and check only ever read them (or their saved JSON,
which ``dltune.store`` alone reads and writes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dltune.model.hardware import HardwareFacts
from dltune.model.loader import LoaderConfig
from dltune.model.metrics import Metrics, Raw
from dltune.model.node import NodeFigures, RankResult, ShardingMemory
from dltune.model.preflight import Preflight
from dltune.model.settings import MeasureSettings
from dltune.model.space import Pruned, SweepSpace
from dltune.model.trace import Search, Tuning

# trial statuses
OK = "ok"
FAILED = "failed"  # an exception in the dataset, the collate function or the loader
TIMEOUT = "timeout"  # no result within the time limit: a hang
MEMORY = "memory"  # stopped by the memory watchdog (or killed by the kernel's OOM killer)
KILLED = "killed"  # a worker or the trial died from a signal
SHM = "shm"  # shared memory (/dev/shm) too small for the batches in flight
REJECTED = "rejected"  # DataLoader (or dltune's validation) refused the configuration

# roles: what a trial was measured for
SWEEP = "sweep"  # a configuration of the planned space
RACE = "race"  # measured again side by side with its close rivals (dltune.bench.confirm)
# the references a sweep compares against (DataLoader's defaults; num_workers = cores)
REFERENCE_DEFAULTS = "defaults"
REFERENCE_CORES = "cores-rule"
REFERENCE_SINGLE = "single-loader"
"""With ranks: what dltune recommended for this dataset as one loader (an earlier run), on every rank."""


@dataclass(frozen=True)
class TrialResult:
    key: str
    config: LoaderConfig
    status: str
    reason: str | None = None
    hint: str | None = None
    metrics: Metrics | None = None
    raw: Raw = field(default_factory=Raw)
    duration_s: float = 0.0
    repeat: int = 0
    role: str = SWEEP
    """SWEEP, RACE, a reference (REFERENCE_DEFAULTS, REFERENCE_CORES, REFERENCE_SINGLE) or a tuning stage
    ('search-up'...)."""
    ranks: tuple[RankResult, ...] = ()
    """With several ranks (``--nproc-per-node``): each rank's own figures; ``metrics`` are then the node's
    (ranks x the slowest rank's rate, CPU and memory added up)."""
    node: NodeFigures | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK and self.metrics is not None

    @property
    def rate(self) -> float:
        """samples/s, 0 for a failed trial."""
        return self.metrics.samples_per_s if self.ok and self.metrics else 0.0


@dataclass(frozen=True)
class RunResult:
    name: str
    target: str
    created: str
    hardware: HardwareFacts
    versions: dict[str, str]
    settings: MeasureSettings
    space: SweepSpace
    pruned: tuple[Pruned, ...] = ()
    preflight: Preflight | None = None
    trials: tuple[TrialResult, ...] = ()
    complete: bool = False
    tuning: Tuning | None = None
    """Set by `dltune tune`: stage costs, and the model's prediction for each configuration."""
    search: Search | None = None
    """How the best was found: timed stages, the worker ceiling and the limit behind it, the
    side-by-side race (candidates, rounds, rates, winner), notes such as a best on the edge."""
    fingerprint: str = ""
    """sha256 of the dataset file when the run started ('' for a module target, or a version 1 run):
    ``--resume`` refuses to mix measurements of two versions of the file."""
    sharding: ShardingMemory | None = None
    single_loader: str | None = None
    """With ranks: the key of the configuration an earlier run of the same file recommended for one
    loader; it is measured with every rank using it, for the comparison."""
    """With ranks and a dataset that has ``shard()``: the best configuration's node memory with and
    without sharding."""

    def ok_trials(self) -> list[TrialResult]:
        return [t for t in self.trials if t.ok]

    def frame(self) -> Any:
        """The trials as a tidy pandas DataFrame: one row per trial (each repeat and race round its own
        row), the configuration's knobs as columns, the headline metrics, status and reason.

        >>> run = dltune.load_run(".dltune/runs/<folder>")
        >>> run.frame().groupby("num_workers").samples_per_s.median()
        """
        import pandas as pd

        return pd.DataFrame([_row(t) for t in self.trials], columns=FRAME_COLUMNS)


FRAME_COLUMNS = (
    "key",
    "role",
    "repeat",
    "status",
    "num_workers",
    "batch_size",
    "prefetch_factor",
    "pinning",
    "persistent_workers",
    "multiprocessing_context",
    "samples_per_s",
    "ci_low",
    "ci_high",
    "cv",
    "first_batch_s",
    "wait_p50_ms",
    "wait_p99_ms",
    "cpu_main_pct",
    "cpu_workers_pct",
    "peak_pss_mib",
    "stall_fraction",
    "window_s",
    "duration_s",
    "reason",
)


def _row(t: TrialResult) -> dict[str, Any]:
    c, m = t.config, t.metrics
    row: dict[str, Any] = {
        "key": t.key,
        "role": t.role,
        "repeat": t.repeat,
        "status": t.status,
        "num_workers": c.num_workers,
        "batch_size": c.batch_size,
        "prefetch_factor": (c.prefetch_factor or 2) if c.num_workers else None,
        "pinning": c.pinning,
        "persistent_workers": c.persistent_workers,
        "multiprocessing_context": c.multiprocessing_context,
        "duration_s": t.duration_s,
        "reason": t.reason,
    }
    if m is not None:
        row.update(
            samples_per_s=m.samples_per_s,
            ci_low=m.samples_per_s_low,
            ci_high=m.samples_per_s_high,
            cv=m.cv,
            first_batch_s=m.first_batch_s,
            wait_p50_ms=m.wait_p50_ms,
            wait_p99_ms=m.wait_p99_ms,
            cpu_main_pct=m.cpu_main_pct,
            cpu_workers_pct=m.cpu_workers_pct,
            peak_pss_mib=m.peak_pss_total / 2**20,
            stall_fraction=m.stall_fraction,
            window_s=m.window_s,
        )
    return row
