"""What dltune knows about the machine: CPUs, memory, GPUs and their measured copy rates (data only).

The probes that fill these in live in ``dltune.hardware``; planning, the recommendation and the check
read these objects or their saved JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CpuFacts:
    logical: int
    """Logical CPUs of the host (hyper-threads count)."""
    physical: int | None
    """Physical cores, when /proc/cpuinfo tells."""
    affinity: int
    """CPUs this process may be scheduled on."""
    quota: float | None
    """CPUs' worth of time the cgroup allows (None: no quota)."""
    usable: int
    """What to plan with: min(affinity, quota rounded up), at least 1."""
    model: str = ""


@dataclass(frozen=True)
class MemoryFacts:
    total: int
    available: int
    swap_total: int
    swap_free: int
    cgroup_limit: int | None
    cgroup_usage: int | None
    shm_total: int
    shm_free: int
    open_files_soft: int
    open_files_hard: int

    @property
    def usable_total(self) -> int:
        """RAM this process tree may use in all: the host's or the cgroup limit, whichever is lower."""
        return min(self.total, self.cgroup_limit or self.total)

    @property
    def usable_available(self) -> int:
        """RAM free for a new trial now, within the cgroup limit too."""
        if self.cgroup_limit is not None and self.cgroup_usage is not None:
            return max(0, min(self.available, self.cgroup_limit - self.cgroup_usage))
        return self.available


# usable GB/s per lane after line encoding, by PCIe generation
PCIE_GBPS_PER_LANE = {1: 0.25, 2: 0.5, 3: 0.985, 4: 1.969, 5: 3.938, 6: 7.563}


@dataclass(frozen=True)
class H2DRate:
    size_bytes: int
    pinned_gbps: float
    pageable_gbps: float


@dataclass(frozen=True)
class GpuFacts:
    index: int
    name: str
    memory_total: int
    pcie_gen: int | None = None
    pcie_gen_max: int | None = None
    pcie_width: int | None = None
    pcie_width_max: int | None = None
    h2d: tuple[H2DRate, ...] = field(default_factory=tuple)

    @property
    def link_gbps(self) -> float | None:
        """Theoretical one-way bandwidth of the link at its current generation and width."""
        if self.pcie_gen is None or self.pcie_width is None:
            return None
        return PCIE_GBPS_PER_LANE.get(self.pcie_gen, 0) * self.pcie_width

    @property
    def link_gbps_max(self) -> float | None:
        if self.pcie_gen_max is None or self.pcie_width_max is None:
            return None
        return PCIE_GBPS_PER_LANE.get(self.pcie_gen_max, 0) * self.pcie_width_max

    @property
    def h2d_pinned_gbps(self) -> float | None:
        return max((r.pinned_gbps for r in self.h2d), default=None)

    @property
    def h2d_pageable_gbps(self) -> float | None:
        return max((r.pageable_gbps for r in self.h2d), default=None)


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
