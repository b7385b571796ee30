"""Sweep spaces: derived from the machine, impossible combinations pruned with reasons, up front."""

from __future__ import annotations

import pytest

from dltune.bench.space import (
    auto_workers,
    expand,
    load_space,
    space_from_dict,
)
from dltune.errors import ConfigError, UsageError
from dltune.model import Preflight, SweepSpace
from dltune.model.hardware import CpuFacts, HardwareFacts, MemoryFacts


def machine(cores: int = 4, gpu: bool = False, shm_free: int = 64 << 30) -> HardwareFacts:
    return HardwareFacts(
        cpu=CpuFacts(cores, cores, cores, None, cores),
        memory=MemoryFacts(64 << 30, 60 << 30, 0, 0, None, None, 64 << 30, shm_free, 1024, 4096),
        cuda_available=gpu,
    )


def test_auto_workers_reach_well_past_the_cores() -> None:
    assert auto_workers(2) == (0, 1, 2, 4, 8)
    assert auto_workers(16) == (0, 1, 2, 4, 8, 16, 32, 64)
    assert auto_workers(6)[-1] == 24 and 6 in auto_workers(6) and 12 in auto_workers(6)


def test_default_space_without_gpu_prunes_pinning_with_a_reason() -> None:
    planned, pruned = expand(SweepSpace(), machine(2), Preflight())
    keys = [p.config.key() for p in planned]
    assert len(keys) == len(set(keys))
    assert all(p.config.pinning == "off" for p in planned)
    assert pruned and all("no CUDA device" in p.reason for p in pruned)
    # workers=0 takes no prefetch/persistent variants: one config per batch size
    assert sum(1 for p in planned if p.config.num_workers == 0) == 3


def test_gpu_machine_sweeps_pinning() -> None:
    planned, pruned = expand(SweepSpace(), machine(2, gpu=True), Preflight())
    assert {p.config.pinning for p in planned} == {"off", "pin_memory"} and not pruned


def test_references_are_added() -> None:
    planned, _ = expand(SweepSpace(workers=(0, 8), batch_size=(64,)), machine(4), Preflight())
    roles = {p.config.key(): p.role for p in planned}
    assert roles["w0-b64-off"] == "sweep"  # DataLoader's defaults are in the grid already
    assert roles["w4-b64-pf2-off"] == "cores-rule"


def test_shm_too_small_is_pruned_before_running() -> None:
    facts = Preflight(bytes_per_sample=600_000)  # a 224x224 float image
    planned, pruned = expand(
        SweepSpace(workers=(2, 16), batch_size=(256,), prefetch_factor=(4,), references=False),
        machine(4, shm_free=4 << 30),
        facts,
    )
    assert [p.config.num_workers for p in planned] == [2]
    assert any("/dev/shm" in p.reason and "16 workers" in p.reason for p in pruned)


def test_iterable_dataset_prunes_shuffle() -> None:
    _, pruned = expand(
        SweepSpace(workers=(0,), batch_size=(8,), base={"shuffle": True}),
        machine(),
        Preflight(iterable=True),
    )
    assert any("IterableDataset" in p.reason for p in pruned)


def test_file_batch_sampler_fixes_batch_size() -> None:
    planned, pruned = expand(SweepSpace(workers=(0, 2)), machine(), Preflight(from_file=("batch_sampler",)))
    assert {p.config.batch_size for p in planned} == {None}
    assert any("fixes the batch size" in p.reason for p in pruned)


def test_bundled_configs_load() -> None:
    for name in ("default", "quick", "ci"):
        space, settings = load_space(name)
        assert settings.min_batches >= 1
    assert load_space("ci")[1].repeats > 1


def test_bad_space_values() -> None:
    with pytest.raises(ConfigError, match="space.worker"):
        space_from_dict({"worker": [1]})
    with pytest.raises(ConfigError, match="not an integer"):
        space_from_dict({"batch_size": ["64"]})
    with pytest.raises(UsageError, match="no config named"):
        load_space("nonexistent")
