"""Probes read fake /proc and /sys trees and a fake NVML: no real hardware needed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from dltune.hardware.cpu import cpu_quota, probe_cpu
from dltune.hardware.facts import HardwareFacts, probe
from dltune.hardware.gpu import probe_nvml
from dltune.hardware.memory import cgroup_memory
from dltune.store import from_json, to_json


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


CPUINFO = "".join(
    f"processor : {i}\nmodel name : Fake CPU\nphysical id : 0\ncore id : {i // 2}\n\n" for i in range(8)
)


def test_cgroup_v2_quota_limits_usable_cpus(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "proc/self/cgroup": "0::/job\n",
            "sys/fs/cgroup/job/cpu.max": "150000 100000\n",
            "proc/cpuinfo": CPUINFO,
        },
    )
    facts = probe_cpu(root, affinity=set(range(8)), logical=8)
    assert facts.quota == 1.5 and facts.usable == 2  # 1.5 CPUs of time: plan with 2 busy processes
    assert facts.physical == 4 and facts.affinity == 8 and facts.model == "Fake CPU"


def test_cgroup_v2_unlimited_and_affinity(tmp_path: Path) -> None:
    root = tree(tmp_path, {"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/cpu.max": "max 100000\n"})
    facts = probe_cpu(root, affinity={0, 1, 2}, logical=16)
    assert facts.quota is None and facts.usable == 3


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "proc/self/cgroup": "4:cpu,cpuacct:/docker/abc\n",
            "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "400000\n",
            "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
        },
    )
    assert cpu_quota(root) == 4.0
    assert probe_cpu(root, affinity=set(range(16)), logical=16).usable == 4
    tree(tmp_path, {"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n"})
    assert cpu_quota(root) is None


def test_cgroup_memory_limits(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "proc/self/cgroup": "0::/\n",
            "sys/fs/cgroup/memory.max": "8589934592\n",
            "sys/fs/cgroup/memory.current": "1073741824\n",
        },
    )
    assert cgroup_memory(root) == (8 << 30, 1 << 30)
    v1 = tree(
        tmp_path / "v1",
        {"proc/self/cgroup": "9:memory:/\n", "sys/fs/cgroup/memory/memory.limit_in_bytes": str(1 << 62)},
    )
    assert cgroup_memory(v1)[0] is None  # v1 reports 'no limit' as a huge number


class FakeNvml:
    class NVMLError(Exception):
        pass

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetName(self, h: int) -> bytes:
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetMemoryInfo(self, h: int):
        return type("M", (), {"total": 80 << 30})()

    def nvmlDeviceGetCurrPcieLinkGeneration(self, h: int) -> int:
        return 5 if h == 0 else 3  # GPU 1 trained down to gen 3: a real-world fault worth showing

    def nvmlDeviceGetMaxPcieLinkGeneration(self, h: int) -> int:
        return 5

    def nvmlDeviceGetCurrPcieLinkWidth(self, h: int) -> int:
        return 16

    def nvmlDeviceGetMaxPcieLinkWidth(self, h: int) -> int:
        raise self.NVMLError("not supported")


def test_fake_nvml_facts_and_link_bandwidth() -> None:
    gpus, note = probe_nvml(FakeNvml())
    assert note is None and len(gpus) == 2
    assert gpus[0].name == "NVIDIA H100 80GB HBM3" and gpus[0].memory_total == 80 << 30
    assert gpus[0].link_gbps == pytest.approx(63.0, rel=0.01)  # gen5 x16
    assert gpus[1].link_gbps == pytest.approx(15.76, rel=0.01)  # gen3 x16
    assert gpus[0].pcie_width_max is None  # unsupported field: None, not a crash


def test_no_nvml_says_so() -> None:
    class Broken:
        def nvmlInit(self) -> None:
            raise OSError("NVML Shared Library Not Found")

    gpus, note = probe_nvml(Broken())
    assert gpus == [] and "NVML unavailable" in (note or "")


def test_probe_agrees_with_the_system_and_round_trips() -> None:
    hw = probe(h2d=False)
    nproc = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout)
    assert hw.cpu.usable == nproc
    df = subprocess.run(
        ["df", "-B1", "--output=size", "/dev/shm"], capture_output=True, text=True
    ).stdout.split()
    assert hw.memory.shm_total == int(df[-1])
    assert from_json(HardwareFacts, json.loads(json.dumps(to_json(hw)))) == hw


@pytest.mark.gpu
def test_measured_h2d_pinned_beats_pageable() -> None:
    hw = probe(h2d=True)
    g = hw.gpus[0]
    assert g.h2d and g.h2d_pinned_gbps and g.h2d_pageable_gbps
    assert g.h2d_pinned_gbps > g.h2d_pageable_gbps
