"""A throughput model of the DataLoader pipeline, from two calibration measurements (pure).

With ``w`` workers the loader delivers at most:
- ``w x r1``: each worker as fast as one worker alone (r1, measured with num_workers=1);
- ``r1 x cores / worker_cpu``: the CPU ceiling. A busy worker uses ``worker_cpu`` cores (measured); a
  worker that waits on storage uses far less than one, so latency-bound data scales past the core count;
- ``1 / main_cpu_per_sample``: the main process receiving batches (measured with one worker).
With 0 workers it delivers ``r0``, measured. The slowest bound wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class StageCosts:
    r0: float
    """samples/s in the main process (num_workers=0)"""
    r1: float
    """samples/s with one worker"""
    worker_cpu: float
    """cores one busy worker uses (1.0 = CPU-bound; 0.1 = waiting 90% of the time)"""
    main_cpu_per_sample: float
    """main-process CPU seconds per sample with workers (unpickling, collate in main, pinning)"""
    cores: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def predict(costs: StageCosts, workers: int) -> float:
    """Predicted steady-state samples/s with ``workers`` workers."""
    if workers == 0:
        return costs.r0
    linear = workers * costs.r1
    cpu_cap = costs.r1 * costs.cores / max(costs.worker_cpu, 0.02)
    main_cap = 1 / costs.main_cpu_per_sample if costs.main_cpu_per_sample > 0 else float("inf")
    return min(linear, cpu_cap, main_cap)


def bound(costs: StageCosts, workers: int) -> str:
    """Which bound sets the prediction: 'main process', 'workers', 'cpu' or 'main-process receive'."""
    if workers == 0:
        return "main process"
    linear = workers * costs.r1
    cpu_cap = costs.r1 * costs.cores / max(costs.worker_cpu, 0.02)
    main_cap = 1 / costs.main_cpu_per_sample if costs.main_cpu_per_sample > 0 else float("inf")
    smallest = min(linear, cpu_cap, main_cap)
    return "workers" if smallest == linear else "cpu" if smallest == cpu_cap else "main-process receive"


def promising_workers(
    costs: StageCosts, choices: Sequence[int], keep: float = 0.9, most: int = 3
) -> list[int]:
    """Worker counts predicted within ``keep`` of the best prediction: the smallest such (the knee), the
    next larger ones, and 0 when the main process alone is predicted competitive."""
    preds = {w: predict(costs, w) for w in choices}
    top = max(preds.values())
    good = sorted(w for w, p in preds.items() if p >= keep * top and w > 0)
    picked = good[:most]
    if not picked and 0 not in preds:  # nothing good and no main-process option: the cheapest worker count
        picked = [min(choices)]
    if 0 in preds and preds[0] >= keep * top:
        picked = [0, *picked]
    elif 0 in preds and picked and picked[0] != 0 and preds[0] >= 0.7 * top:
        picked = [0, *picked]  # close enough that measurement noise in the calibration could hide it
    return sorted(set(picked))
