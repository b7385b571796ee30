"""The data objects at the seams: a trial's result and a run's result, with their versioned JSON form.

Measuring produces these; recommend, report and check only ever read them (or their saved JSON).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

SCHEMA_VERSION = 1
RUN_KIND = "dltune.run"

# trial statuses
OK = "ok"
FAILED = "failed"  # an exception in the dataset, the collate function or the loader
TIMEOUT = "timeout"  # no result within the time limit: a hang
MEMORY = "memory"  # stopped by the memory watchdog (or killed by the kernel's OOM killer)
KILLED = "killed"  # a worker or the trial died from a signal
SHM = "shm"  # shared memory (/dev/shm) too small for the batches in flight
REJECTED = "rejected"  # DataLoader (or dltune's validation) refused the configuration

# the role of a trial measured again side by side with its close rivals (dltune.bench.confirm)
RACE = "race"


@dataclass(frozen=True)
class Metrics:
    samples_per_s: float
    """Steady-state throughput over the window (total samples / total time)."""
    samples_per_s_low: float
    samples_per_s_high: float
    """95% confidence interval of the mean over the window's segments."""
    cv: float
    """Coefficient of variation over segments."""
    batches_per_s: float
    bytes_per_s: float
    first_batch_s: float
    """Time from iter(loader) to the first batch: worker start-up plus the first fetch."""
    wait_p50_ms: float
    wait_p90_ms: float
    wait_p99_ms: float
    """Time the training loop waited in next(loader), per batch."""
    cpu_main_pct: float
    cpu_workers_pct: float
    """CPU use in percent of one core (200 = two cores busy)."""
    peak_pss_main: int
    peak_pss_workers: int
    """Peak proportional set size: shared pages are divided between the processes sharing them."""
    batches: int
    samples: int
    epochs: int
    window_s: float
    batch_bytes: float
    h2d_ms_per_batch: float | None = None
    stall_fraction: float | None = None
    """With a simulated step: share of the loop's time spent waiting on data."""
    start_method: str = ""

    @property
    def peak_pss_total(self) -> int:
        return self.peak_pss_main + self.peak_pss_workers


@dataclass(frozen=True)
class Raw:
    """Raw timings of the window, kept so any statistic can be recomputed later."""

    wait_s: list[float] = field(default_factory=list)
    interval_s: list[float] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    segment_rates: list[float] = field(default_factory=list)
    h2d_s: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class TrialResult:
    key: str
    config: dict[str, Any]
    status: str
    reason: str | None = None
    hint: str | None = None
    metrics: Metrics | None = None
    raw: Raw = field(default_factory=Raw)
    duration_s: float = 0.0
    repeat: int = 0
    role: str = "sweep"
    """'sweep', or 'reference' for the configurations compared against (DataLoader defaults, the cores rule)."""

    @property
    def ok(self) -> bool:
        return self.status == OK and self.metrics is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrialResult:
        d = dict(d)
        m = d.get("metrics")
        known = {f.name for f in fields(Metrics)}
        d["metrics"] = Metrics(**{k: v for k, v in m.items() if k in known}) if m else None
        d["raw"] = Raw(**d.get("raw", {}))
        return cls(**{k: v for k, v in d.items() if k in {f.name for f in fields(cls)}})


@dataclass(frozen=True)
class RunResult:
    name: str
    target: str
    created: str
    hardware: dict[str, Any]
    versions: dict[str, str]
    settings: dict[str, Any]
    space: dict[str, Any]
    pruned: list[dict[str, Any]] = field(default_factory=list)
    preflight: dict[str, Any] | None = None
    trials: tuple[TrialResult, ...] = ()
    complete: bool = False
    tuning: dict[str, Any] | None = None
    """Set by `dltune tune`: stage costs, and the model's prediction for each configuration."""
    search: dict[str, Any] | None = None
    """How the best was found: timed stages, the worker ceiling and the limit behind it, the
    side-by-side race (candidates, rounds, rates, winner), notes such as a best on the edge."""
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = RUN_KIND
        d["trials"] = [t.to_dict() for t in self.trials]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunResult:
        d = {k: v for k, v in d.items() if k != "kind"}
        d["trials"] = tuple(TrialResult.from_dict(t) for t in d.get("trials", []))
        return cls(**{k: v for k, v in d.items() if k in {f.name for f in fields(cls)}})

    def ok_trials(self) -> list[TrialResult]:
        return [t for t in self.trials if t.ok]
