"""How a trial measures: window length, limits, the simulated training step."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from dltune.errors import ConfigError
from dltune.model.codec import SchemaError, from_json


@dataclass(frozen=True)
class MeasureSettings:
    min_batches: int = 12
    """The steady-state window holds at least this many batches..."""
    min_seconds: float = 1.0
    """...and lasts at least this long,"""
    max_seconds: float = 8.0
    """...unless this much time has passed: then the minimums shrink to three rounds and the precision
    target loosens in proportion to the time spent, up to 6x this (dltune.bench.measure.ended)."""
    segments: int = 8
    """The window is cut into this many segments of whole worker rounds to estimate its interval."""
    precision: float = 0.03
    """Past those minimums the window grows until the 95% interval's half-width is at most this share of
    the rate (enough to rank configurations a few percent apart). 0: no target (the minimums end a window, ``max_seconds`` a slow one)."""
    rank_against: float = 0.0
    """samples/s of the configuration this trial is ranked against (0: none). Tuning sets it to the
    leader's rate for its screening trials: a window whose interval lies wholly below it has ranked its
    configuration and ends from three rounds on, however wide that interval (one that overlaps the
    leader, or lies above it and so becomes the new leader, goes on until it is precise)."""
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
    nproc_per_node: int = 1
    """Ranks per machine, each with its own DataLoader, measured at the same time (started by
    torch.distributed's elastic agent, as torchrun starts them)."""
    nnodes: int = 1
    """Machines taking part; above 1 every machine runs the same dltune command with ``rdzv_endpoint``."""
    rdzv_endpoint: str = ""
    """host:port of torchrun's c10d rendezvous for several machines ('' on one machine: 127.0.0.1)."""
    rdzv_id: str = ""
    """The run id every machine of a multi-node run shares (torchrun's --rdzv-id)."""

    @property
    def ranked(self) -> bool:
        """Measured with ranks (torch.distributed), not as one loader in one process."""
        return self.nproc_per_node > 1 or self.nnodes > 1

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], table: str = "measure") -> MeasureSettings:
        """From a ``[measure]`` table: every key known, every value of its type and in range."""
        known = [f.name for f in fields(cls)]
        for k in d:
            if k not in known:
                close = difflib.get_close_matches(k, known, n=1)
                raise ConfigError(
                    f"{table}.{k}",
                    "is not a measurement setting",
                    f"did you mean {close[0]!r}?" if close else f"valid settings: {', '.join(known)}",
                )
        try:
            settings: MeasureSettings = from_json(cls, dict(d), table)
        except SchemaError as exc:
            raise ConfigError(exc.path, exc.problem, "see configs/default.toml for the types") from None
        return settings.checked(table)

    def checked(self, table: str = "measure") -> MeasureSettings:
        """Raise ConfigError naming the first value out of range; return self."""
        for name, ok, want in (
            ("min_batches", self.min_batches >= 1, "an integer >= 1"),
            ("segments", self.segments >= 2, "an integer >= 2"),
            ("min_seconds", _finite(self.min_seconds) and self.min_seconds >= 0, "seconds >= 0"),
            ("max_seconds", _finite(self.max_seconds) and self.max_seconds > 0, "seconds > 0"),
            (
                "precision",
                _finite(self.precision) and 0 <= self.precision < 1,
                "a share in [0, 1), e.g. 0.03",
            ),
            ("rank_against", _finite(self.rank_against) and self.rank_against >= 0, "samples/s >= 0"),
            ("timeout_s", _finite(self.timeout_s) and self.timeout_s > 0, "seconds > 0"),
            ("step_ms", _finite(self.step_ms) and self.step_ms >= 0, "milliseconds >= 0"),
            ("repeats", self.repeats >= 1, "an integer >= 1"),
            (
                "memory_fraction",
                _finite(self.memory_fraction) and 0 < self.memory_fraction <= 1,
                "a share in (0, 1]",
            ),
            ("memory_limit", self.memory_limit is None or self.memory_limit > 0, "bytes > 0"),
            ("warmup_batches", self.warmup_batches is None or self.warmup_batches >= 0, "an integer >= 0"),
            ("nproc_per_node", self.nproc_per_node >= 1, "an integer >= 1"),
            ("nnodes", self.nnodes >= 1, "an integer >= 1"),
            (
                "rdzv_endpoint",
                self.nnodes == 1 or _endpoint(self.rdzv_endpoint),
                "host:port (several machines need the rendezvous address, e.g. 10.0.0.1:29400)",
            ),
        ):
            if not ok:
                raise ConfigError(f"{table}.{name}", f"{getattr(self, name)!r} is not {want}")
        return self


def _finite(x: float) -> bool:
    return math.isfinite(x)


def _endpoint(text: str) -> bool:
    host, _, port = text.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536
