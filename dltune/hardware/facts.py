"""Probe the machine into HardwareFacts (dltune.model.hardware): CPUs, memory, GPUs, limits."""

from __future__ import annotations

import platform
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from dltune.hardware.cpu import probe_cpu
from dltune.hardware.gpu import measure_h2d, probe_nvml
from dltune.hardware.memory import probe_memory
from dltune.hardware.processes import process_headroom
from dltune.model.hardware import GpuFacts, HardwareFacts

__all__ = ["HardwareFacts", "probe", "software_versions"]


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


def software_versions() -> dict[str, str]:
    """dltune, Python, torch and the platform: saved with every run and baseline."""
    import torch

    from dltune.version import __version__

    return {
        "dltune": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "platform": platform.platform(),
    }
