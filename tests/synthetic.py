"""Synthetic run results for testing the choice logic and the renderers without measuring anything."""

from __future__ import annotations

from dataclasses import replace

from dltune.model import (
    FAILED,
    CpuFacts,
    HardwareFacts,
    LoaderConfig,
    MeasureSettings,
    MemoryFacts,
    Metrics,
    Preflight,
    RunResult,
    SweepSpace,
    TrialResult,
)

HARDWARE = HardwareFacts(
    cpu=CpuFacts(logical=8, physical=4, affinity=8, quota=None, usable=8, model="Test CPU"),
    memory=MemoryFacts(
        total=32 << 30,
        available=30 << 30,
        swap_total=0,
        swap_free=0,
        cgroup_limit=None,
        cgroup_usage=None,
        shm_total=16 << 30,
        shm_free=16 << 30,
        open_files_soft=1024,
        open_files_hard=4096,
    ),
    host="test",
    platform="Linux",
    python="3.11",
    torch="2.13.0",
    start_methods=("fork", "spawn"),
)


def trial(
    workers: int,
    rate: float,
    *,
    bs: int = 64,
    spread: float = 0.02,
    mem_mib: float | None = None,
    cpu: float | None = None,
    main_cpu: float = 20.0,
    persist: bool = True,
    pf: int = 2,
    role: str = "sweep",
    stall: float | None = None,
    h2d_ms: float | None = None,
    bytes_per_sample: float = 150_000,
    first_batch_s: float = 0.2,
    fed: int | None = None,
) -> TrialResult:
    cfg = LoaderConfig(
        batch_size=bs,
        num_workers=workers,
        prefetch_factor=pf if workers else None,
        persistent_workers=persist and workers > 0,
    )
    m = Metrics(
        samples_per_s=rate,
        samples_per_s_low=rate * (1 - spread),
        samples_per_s_high=rate * (1 + spread),
        cv=spread,
        batches_per_s=rate / bs,
        bytes_per_s=rate * bytes_per_sample,
        first_batch_s=first_batch_s,
        wait_p50_ms=5.0,
        wait_p90_ms=8.0,
        wait_p99_ms=20.0,
        cpu_main_pct=main_cpu,
        cpu_workers_pct=(cpu if cpu is not None else 100 * min(workers, 8)) - main_cpu,
        peak_pss_main=200 << 20,
        peak_pss_workers=int(((mem_mib if mem_mib is not None else 200 + 150 * workers) - 200) * 2**20),
        batches=50,
        samples=50 * bs,
        epochs=2,
        window_s=2.0,
        batch_bytes=bs * bytes_per_sample,
        h2d_ms_per_batch=h2d_ms,
        stall_fraction=stall,
        start_method="fork" if workers else "main",
        fed_workers=fed,
    )
    return TrialResult(key=cfg.key(), config=cfg, status="ok", metrics=m, role=role)


def failed(workers: int, status: str = FAILED, reason: str = "boom", bs: int = 64) -> TrialResult:
    cfg = LoaderConfig(batch_size=bs, num_workers=workers, prefetch_factor=2, persistent_workers=True)
    return TrialResult(key=cfg.key(), config=cfg, status=status, reason=reason)


def run(
    *trials: TrialResult,
    cores: int = 8,
    step_ms: float = 0,
    preflight: Preflight | None = None,
    hardware: HardwareFacts | None = None,
) -> RunResult:
    hw = hardware or HARDWARE
    hw = replace(hw, cpu=replace(hw.cpu, usable=cores))
    return RunResult(
        name="synthetic",
        target="examples/synthetic.py",
        created="2026-11-21T00:00:00+00:00",
        hardware=hw,
        versions={"dltune": "0.1.0"},
        settings=MeasureSettings(step_ms=float(step_ms)),
        space=SweepSpace(),
        preflight=preflight or Preflight(length=10_000, sample_s=0.004, bytes_per_sample=150_000),
        trials=tuple(trials),
        complete=True,
    )


def cpu_bound_run() -> RunResult:
    """A decode-heavy image pipeline on 8 cores: scales to 8 workers, then flat."""
    return run(
        trial(0, 240, main_cpu=100, cpu=100),
        trial(1, 230, cpu=100),
        trial(2, 450, cpu=200),
        trial(4, 880, cpu=400),
        trial(8, 1700, cpu=780, spread=0.03),
        trial(16, 1710, cpu=790, spread=0.03),
        trial(8, 1100, cpu=780, persist=False, role="cores-rule"),
        failed(32, "memory", "stopped by the memory watchdog"),
    )
