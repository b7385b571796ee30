"""Progress events: what the runner and tuning tell the caller (the CLI draws them; the core never prints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dltune.bench.space import Planned, Pruned
from dltune.model import RunResult, TrialResult


@dataclass(frozen=True)
class Event:
    kind: str  # "planned", "trial_start", "trial_done", "done"
    run: RunResult
    index: int = 0
    total: int = 0
    trial: TrialResult | None = None
    planned: Planned | None = None
    pruned: tuple[Pruned, ...] = field(default_factory=tuple)
    folder: Path | None = None
