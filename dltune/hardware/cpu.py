"""Usable CPUs: scheduler affinity intersected with the cgroup (v1 or v2) CPU quota.

``os.cpu_count()`` reports the host's CPUs; a container limited by a CPU quota gets fewer. Every path
is read under ``root`` so tests can point it at fake /proc and /sys trees.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from dltune.model.hardware import CpuFacts


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cgroup_paths(root: Path) -> tuple[str | None, dict[str, str]]:
    """This process's cgroup v2 path and v1 paths by controller, from /proc/self/cgroup."""
    text = _read(root / "proc/self/cgroup") or ""
    v2: str | None = None
    v1: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            v2 = path
        for c in controllers.split(","):
            if c:
                v1[c] = path
    return v2, v1


def _candidates(base: Path, path: str | None) -> list[Path]:
    """The process's own cgroup folder first, then the root of the hierarchy (a namespaced container)."""
    out = []
    if path and path != "/":
        out.append(base / path.lstrip("/"))
    out.append(base)
    return out


def cpu_quota(root: Path = Path("/")) -> float | None:
    """CPUs' worth of quota (e.g. 1.5), or None when unlimited."""
    v2, v1 = cgroup_paths(root)
    for folder in _candidates(root / "sys/fs/cgroup", v2):
        text = _read(folder / "cpu.max")
        if text:
            quota, _, period = text.partition(" ")
            if quota == "max":
                return None
            return int(quota) / int(period or 100000)
    for controller in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        for folder in _candidates(root / "sys/fs/cgroup" / controller, v1.get("cpu")):
            q, p = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
            if q is not None and p is not None:
                return None if int(q) < 0 else int(q) / int(p)
    return None


def physical_cores(root: Path = Path("/")) -> tuple[int | None, str]:
    text = _read(root / "proc/cpuinfo") or ""
    cores: set[tuple[str, str]] = set()
    physical_id = core_id = ""
    model = ""
    for line in text.splitlines():
        key, _, value = (s.strip() for s in line.partition(":"))
        if key == "physical id":
            physical_id = value
        elif key == "core id":
            core_id = value
            cores.add((physical_id, core_id))
        elif key == "model name" and not model:
            model = value
    return (len(cores) or None), model


def probe_cpu(
    root: Path = Path("/"), affinity: set[int] | None = None, logical: int | None = None
) -> CpuFacts:
    if affinity is None:
        affinity = (
            os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
        )
    logical = logical or os.cpu_count() or len(affinity)
    quota = cpu_quota(root)
    usable = len(affinity)
    if quota is not None:
        usable = min(usable, math.ceil(quota - 1e-9))
    physical, model = physical_cores(root)
    return CpuFacts(logical, physical, len(affinity), quota, max(1, usable), model)
