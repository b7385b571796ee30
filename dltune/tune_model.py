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

from dltune.model.trace import StageCosts

__all__ = ["StageCosts", "bound", "predict", "promising_workers"]


def _bounds(costs: StageCosts, workers: int) -> dict[str, float]:
    """Each bound's samples/s with ``workers`` (> 0) workers, by name."""
    return {
        "workers": workers * costs.r1,
        "cpu": costs.r1 * costs.cores / max(costs.worker_cpu, 0.02),
        "main-process receive": (
            1 / costs.main_cpu_per_sample if costs.main_cpu_per_sample > 0 else float("inf")
        ),
    }


def predict(costs: StageCosts, workers: int) -> float:
    """Predicted steady-state samples/s with ``workers`` workers."""
    return costs.r0 if workers == 0 else min(_bounds(costs, workers).values())


def bound(costs: StageCosts, workers: int) -> str:
    """Which bound sets the prediction: 'main process', 'workers', 'cpu' or 'main-process receive'."""
    if workers == 0:
        return "main process"
    bounds = _bounds(costs, workers)
    return min(bounds, key=bounds.__getitem__)


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
