"""From a trial's raw window (and the watchdog's memory peaks) to its Metrics (pure)."""

from __future__ import annotations

from typing import Any

from dltune.interval import segment_rates
from dltune.model import Metrics, Raw
from dltune.stats import percentiles, summarize


def metrics_from_window(
    window: dict[str, Any],
    segments: int,
    cycle: int,
    peak_main: int,
    peak_workers: int,
    step_ms: float,
    start_method: str = "",
) -> tuple[Metrics, Raw]:
    samples: list[int] = window["samples"]
    intervals: list[float] = window["interval_s"]
    waits: list[float] = window["wait_s"]
    total_t = sum(intervals)
    total_n = sum(samples)
    rate = total_n / total_t if total_t > 0 else 0.0
    seg = segment_rates(samples, intervals, segments, min_size=max(1, window.get("round_batches") or cycle))
    if len(seg) < 2:  # a window of one epoch: fall back to segments of whole worker rounds
        seg = segment_rates(samples, intervals, segments, min_size=max(1, cycle))
    s = summarize(seg) if seg else summarize([rate])
    # centre the interval on the window's own rate (segments are equal in batches, not in time); one
    # segment says nothing about the spread: the interval is then the whole range, never +-0
    half = s.half_width if len(seg) >= 2 else rate
    low, high = rate - half, rate + half
    p50, p90, p99 = (1000 * v for v in percentiles(waits))
    h2d = window.get("h2d_s") or []
    cpu = window.get("cpu") or {}
    m = Metrics(
        samples_per_s=rate,
        samples_per_s_low=max(0.0, low),
        samples_per_s_high=high,
        cv=s.cv,
        batches_per_s=len(samples) / total_t if total_t > 0 else 0.0,
        bytes_per_s=sum(window["bytes"]) / total_t if total_t > 0 else 0.0,
        first_batch_s=window["first_batch_s"],
        wait_p50_ms=p50,
        wait_p90_ms=p90,
        wait_p99_ms=p99,
        cpu_main_pct=cpu.get("main_pct", float("nan")),
        cpu_workers_pct=cpu.get("workers_pct", float("nan")),
        peak_pss_main=peak_main,
        peak_pss_workers=peak_workers,
        batches=len(samples),
        samples=total_n,
        epochs=window["epochs"],
        window_s=window["window_s"],
        batch_bytes=sum(window["bytes"]) / len(samples) if samples else 0.0,
        h2d_ms_per_batch=1000 * sum(h2d) / len(h2d) if h2d else None,
        stall_fraction=sum(waits) / total_t if step_ms > 0 and total_t > 0 else None,
        start_method=start_method,
        fed_workers=window.get("fed_workers"),
    )
    raw = Raw(
        wait_s=tuple(waits),
        interval_s=tuple(intervals),
        samples=tuple(samples),
        segment_rates=tuple(seg),
        h2d_s=tuple(h2d),
    )
    return m, raw
