"""RAM, swap, the cgroup memory limit, /dev/shm and the open-file limit."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import psutil

from dltune.hardware.cpu import _candidates, _read, cgroup_paths
from dltune.model.hardware import MemoryFacts

_NO_LIMIT = 1 << 60  # cgroup v1 reports "no limit" as a huge number


def cgroup_memory(root: Path = Path("/")) -> tuple[int | None, int | None]:
    """(limit, usage) in bytes from cgroup v2 memory.max / v1 memory.limit_in_bytes; None when unlimited."""
    v2, v1 = cgroup_paths(root)
    for folder in _candidates(root / "sys/fs/cgroup", v2):
        limit = _read(folder / "memory.max")
        if limit:
            usage = _read(folder / "memory.current")
            return (None if limit == "max" else int(limit)), (int(usage) if usage else None)
    for folder in _candidates(root / "sys/fs/cgroup/memory", v1.get("memory")):
        limit = _read(folder / "memory.limit_in_bytes")
        if limit:
            usage = _read(folder / "memory.usage_in_bytes")
            value = int(limit)
            return (None if value >= _NO_LIMIT else value), (int(usage) if usage else None)
    return None, None


def shm_space(path: str = "/dev/shm") -> tuple[int, int]:
    """(size, free) of the shared-memory filesystem DataLoader workers pass batches through."""
    try:
        st = os.statvfs(path)
    except OSError:
        return 0, 0
    return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize


def probe_memory(root: Path = Path("/"), shm_path: str = "/dev/shm") -> MemoryFacts:
    vm, sw = psutil.virtual_memory(), psutil.swap_memory()
    limit, usage = cgroup_memory(root)
    shm_total, shm_free = shm_space(shm_path)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return MemoryFacts(
        total=vm.total,
        available=vm.available,
        swap_total=sw.total,
        swap_free=sw.free,
        cgroup_limit=limit,
        cgroup_usage=usage,
        shm_total=shm_total,
        shm_free=shm_free,
        open_files_soft=soft,
        open_files_hard=hard,
    )
