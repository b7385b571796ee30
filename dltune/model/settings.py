"""How a trial measures: window length, limits, the simulated training step."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from dltune.errors import UsageError


@dataclass(frozen=True)
class MeasureSettings:
    min_batches: int = 12
    """The steady-state window holds at least this many batches..."""
    min_seconds: float = 1.0
    """...and lasts at least this long,"""
    max_seconds: float = 8.0
    """...unless this much time has passed (then it ends with what it has, at least ``segments`` batches)."""
    segments: int = 8
    """The window is cut into this many segments of whole worker rounds to estimate its interval."""
    precision: float = 0.03
    """Past those minimums the window grows until the 95% interval's half-width is at most this share of
    the rate (enough to rank configurations a few percent apart), or ``max_seconds``. 0: no target."""
    timeout_s: float = 120.0
    """A trial that has not finished after this long is a hang: it is stopped and recorded."""
    step_ms: float = 0.0
    """Simulated training step per batch (the loop sleeps, as the CPU does while a GPU computes)."""
    repeats: int = 1
    """Separate trials (processes) per configuration, interleaved."""
    memory_fraction: float = 0.8
    """The watchdog stops a trial whose processes use more than this share of the RAM available at its start."""
    memory_limit: int | None = None
    """An absolute cap in bytes for one trial's processes (the lower of the two applies)."""
    device: str = "auto"
    """Where batches go: 'auto' (cuda when present), 'cuda', 'cuda:1' or 'none' (stay on the host)."""
    warmup_batches: int | None = None
    """Batches skipped before the window; None means the ones buffered at start-up (workers x prefetch_factor)."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MeasureSettings:
        known = {f.name: f for f in fields(cls)}
        for k in d:
            if k not in known:
                raise UsageError(f"[measure] has no setting {k!r}", f"valid settings: {', '.join(known)}")
        s = cls(**d)
        if s.min_batches < 1 or s.segments < 1 or s.max_seconds <= 0 or s.timeout_s <= 0 or s.repeats < 1:
            raise UsageError(
                "[measure] values must be positive",
                "check min_batches, segments, max_seconds, timeout_s, repeats",
            )
        if not 0 <= s.precision < 1:
            raise UsageError(
                f"[measure] precision {s.precision!r} is not a share between 0 and 1",
                "use e.g. precision = 0.03 (a 95% interval of +-3%), or 0 for fixed-length windows",
            )
        return s
