"""HardwareFacts: everything the sweep and the recommendation need to know about this machine."""

from __future__ import annotations

import platform
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from dltune.hardware.cpu import CpuFacts, probe_cpu
from dltune.hardware.gpu import GpuFacts, H2DRate, measure_h2d, probe_nvml
from dltune.hardware.memory import MemoryFacts, probe_memory
from dltune.hardware.processes import process_headroom


@dataclass(frozen=True)
class HardwareFacts:
    cpu: CpuFacts
    memory: MemoryFacts
    gpus: tuple[GpuFacts, ...] = ()
    cuda_available: bool = False
    notes: tuple[str, ...] = ()
    host: str = ""
    platform: str = ""
    python: str = ""
    torch: str = ""
    start_methods: tuple[str, ...] = field(default_factory=tuple)
    process_headroom: int | None = None
    """Processes that may still be started (RLIMIT_NPROC, cgroup pids.max); None: no limit found."""

    @property
    def has_gpu(self) -> bool:
        return self.cuda_available

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for g, gpu in zip(d["gpus"], self.gpus, strict=True):
            g["link_gbps"] = gpu.link_gbps
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HardwareFacts:
        gpus = []
        for g in d.get("gpus", []):
            g = {k: v for k, v in g.items() if k != "link_gbps"}
            g["h2d"] = tuple(H2DRate(**r) for r in g.get("h2d", ()))
            gpus.append(GpuFacts(**g))
        return cls(
            cpu=CpuFacts(**d["cpu"]),
            memory=MemoryFacts(**d["memory"]),
            gpus=tuple(gpus),
            cuda_available=d.get("cuda_available", False),
            notes=tuple(d.get("notes", ())),
            host=d.get("host", ""),
            platform=d.get("platform", ""),
            python=d.get("python", ""),
            torch=d.get("torch", ""),
            start_methods=tuple(d.get("start_methods", ())),
            process_headroom=d.get("process_headroom"),
        )


def probe(root: Path = Path("/"), nvml: Any = None, h2d: bool = True) -> HardwareFacts:
    """Probe this machine. ``h2d=False`` skips the (about a second long) copy-rate measurement."""
    import torch
    import torch.multiprocessing as mp

    notes: list[str] = []
    gpus, nvml_note = probe_nvml(nvml)
    if nvml_note:
        notes.append(nvml_note)
    cuda = bool(torch.cuda.is_available())
    if not cuda:
        notes.append("no CUDA device visible to torch: pin_memory and host-to-device copies are not measured")
    elif h2d:
        measured = []
        for i in range(torch.cuda.device_count()):
            rates = measure_h2d(i)
            match = next((g for g in gpus if g.index == i), None)
            if match is None:
                props = torch.cuda.get_device_properties(i)
                match = GpuFacts(index=i, name=props.name, memory_total=props.total_memory)
            measured.append(replace(match, h2d=rates))
        gpus = measured
    return HardwareFacts(
        cpu=probe_cpu(root),
        memory=probe_memory(root),
        gpus=tuple(gpus),
        cuda_available=cuda,
        notes=tuple(notes),
        host=platform.node(),
        platform=platform.platform(),
        python=sys.version.split()[0],
        torch=torch.__version__,
        start_methods=tuple(mp.get_all_start_methods()),
        process_headroom=process_headroom(root),
    )
