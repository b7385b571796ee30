"""Repeatable loading: one seed fixes the index order and every worker's random streams.

torch (>= 1.9) seeds ``torch``, ``random`` and ``numpy`` in each worker from the loader's base seed
plus the worker id; the base seed is drawn from the DataLoader's ``generator``. Giving DataLoader a
generator fixed by the seed therefore makes every worker's streams the same run after run, and
different from each other. ``SeedWorkers`` re-seeds the three explicitly (torch versions differ in
how numpy is seeded) and then calls the user's own ``worker_init_fn``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch


class SeedWorkers:
    """worker_init_fn: seed random, numpy and torch from the worker's torch seed (picklable)."""

    def __init__(self, then: Callable[[int], None] | None = None) -> None:
        self.then = then

    def __call__(self, worker_id: int) -> None:
        seed = torch.initial_seed()  # base_seed + worker_id, set by DataLoader in this worker
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        if self.then is not None:
            self.then(worker_id)


def loader_generator(seed: int | None) -> torch.Generator | None:
    if seed is None:
        return None
    return torch.Generator().manual_seed(int(seed))


def seed_main_process(seed: int) -> None:
    """Seed the main process's streams (what a dataset sees with num_workers=0)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
