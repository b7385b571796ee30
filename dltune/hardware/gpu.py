"""GPUs: facts from NVML and a measured host-to-device copy rate for pinned and pageable memory.

NVML is passed in (``nvml=``) so tests can use a fake; the real module is ``pynvml`` from the
``nvidia-ml-py`` package. Without an NVIDIA driver every function says so instead of failing.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from dltune.model.hardware import GpuFacts, H2DRate


def _load_nvml() -> Any:
    import pynvml

    return pynvml


def probe_nvml(nvml: Any = None) -> tuple[list[GpuFacts], str | None]:
    """GPUs as NVML sees them, and a note when NVML cannot be used (no driver, no library)."""
    try:
        nvml = nvml or _load_nvml()
        nvml.nvmlInit()
    except Exception as exc:
        return [], f"NVML unavailable ({type(exc).__name__}: {exc}); no NVIDIA driver or GPU visible"
    gpus: list[GpuFacts] = []
    try:
        for i in range(nvml.nvmlDeviceGetCount()):
            h = nvml.nvmlDeviceGetHandleByIndex(i)
            name = nvml.nvmlDeviceGetName(h)
            name = name.decode() if isinstance(name, bytes) else str(name)

            def opt(fn_name: str, handle: Any = h) -> int | None:
                try:
                    return int(getattr(nvml, fn_name)(handle))
                except Exception:  # some boards (SXM, MIG) do not report every field
                    return None

            gpus.append(
                GpuFacts(
                    index=i,
                    name=name,
                    memory_total=int(nvml.nvmlDeviceGetMemoryInfo(h).total),
                    pcie_gen=opt("nvmlDeviceGetCurrPcieLinkGeneration"),
                    pcie_gen_max=opt("nvmlDeviceGetMaxPcieLinkGeneration"),
                    pcie_width=opt("nvmlDeviceGetCurrPcieLinkWidth"),
                    pcie_width_max=opt("nvmlDeviceGetMaxPcieLinkWidth"),
                )
            )
    finally:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()
    return gpus, None


def measure_h2d(
    device: int = 0, sizes: tuple[int, ...] = (1 << 20, 16 << 20, 128 << 20), repeats: int = 5
) -> tuple[H2DRate, ...]:
    """Copy rate host -> device (GB/s, median of ``repeats``) from pinned and from pageable memory."""
    import torch

    dev = torch.device("cuda", device)
    rates = []
    for size in sizes:
        pageable = torch.empty(size, dtype=torch.uint8)
        pinned = pageable.pin_memory()
        target = torch.empty(size, dtype=torch.uint8, device=dev)

        def rate(src: torch.Tensor, size: int = size, target: torch.Tensor = target) -> float:
            times = []
            target.copy_(src, non_blocking=False)  # warm-up
            torch.cuda.synchronize(dev)
            for _ in range(repeats):
                t0 = time.perf_counter()
                target.copy_(src, non_blocking=src.is_pinned())
                torch.cuda.synchronize(dev)
                times.append(time.perf_counter() - t0)
            times.sort()
            return size / times[len(times) // 2] / 1e9

        rates.append(H2DRate(size, pinned_gbps=rate(pinned), pageable_gbps=rate(pageable)))
        del pageable, pinned, target
    return tuple(rates)
