"""A stored baseline: the CI configurations' measured rates, with the machine and versions they came from."""

from __future__ import annotations

from dataclasses import dataclass

from dltune.model.hardware import HardwareFacts
from dltune.model.loader import LoaderConfig
from dltune.model.settings import MeasureSettings


@dataclass(frozen=True)
class BaselineEntry:
    key: str
    config: LoaderConfig
    samples: tuple[float, ...]
    """samples/s, one per measurement (a separate trial each)."""


@dataclass(frozen=True)
class Baseline:
    target: str
    created: str
    hardware: HardwareFacts
    versions: dict[str, str]
    settings: MeasureSettings
    configs: tuple[BaselineEntry, ...]

    def mismatches(self, now: HardwareFacts) -> list[str]:
        """What differs between the machine the baseline was measured on and this one."""
        was = self.hardware
        notes = []
        for what, a, b in (
            ("usable CPUs", was.cpu.usable, now.cpu.usable),
            ("CPU model", was.cpu.model, now.cpu.model),
            ("torch", was.torch, now.torch),
            ("GPUs", [g.name for g in was.gpus], [g.name for g in now.gpus]),
        ):
            if a != b:
                notes.append(f"{what} differ: baseline {a!r}, now {b!r}")
        return notes
