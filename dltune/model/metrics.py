"""What one loader's timing window yields: its headline metrics and the raw timings behind them."""

from __future__ import annotations

from dataclasses import dataclass


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
    fed_workers: int | None = None
    """Workers that made at least one batch in the trial: fewer than ``num_workers`` when the dataset cannot feed
    them all (an IterableDataset's shards, an epoch of fewer batches than workers). None: not counted."""

    @property
    def peak_pss_total(self) -> int:
        return self.peak_pss_main + self.peak_pss_workers


@dataclass(frozen=True)
class Raw:
    """Raw timings of the window, kept so any statistic can be recomputed later."""

    wait_s: tuple[float, ...] = ()
    interval_s: tuple[float, ...] = ()
    samples: tuple[int, ...] = ()
    segment_rates: tuple[float, ...] = ()
    h2d_s: tuple[float, ...] = ()
