"""The sweep space: which values of each DataLoader knob to measure (data only).

``dltune.bench.space`` reads it from TOML and flags and expands it into configurations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SweepSpace:
    workers: tuple[int, ...] | str = "auto"
    batch_size: tuple[int, ...] = (32, 64, 128)
    prefetch_factor: tuple[int, ...] = (2, 4)
    pin_memory: str = "auto"
    """'auto' (both, where there is a GPU; off otherwise), 'on', 'off' or 'both'."""
    persistent_workers: tuple[bool, ...] = (True,)
    start_method: tuple[str | None, ...] = (None,)
    """None: the platform's default (what DataLoader uses when not told)."""
    base: dict[str, Any] = field(default_factory=dict)
    """Other LoaderConfig fields shared by every configuration (shuffle, collate, sampler...)."""
    references: bool = True
    """Also measure DataLoader's defaults and the num_workers = cores rule, for comparison."""
    max_workers: int | None = None
    """The user's cap (--max-workers): no configuration with more workers is measured."""
    threads: tuple[int | None, ...] = (None,)
    """Intra-op threads per loading process (LoaderConfig.threads); None: torch's defaults (under
    several ranks, torchrun's OMP_NUM_THREADS=1)."""


@dataclass(frozen=True)
class Pruned:
    key: str
    reason: str
