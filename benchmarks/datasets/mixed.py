"""Storage wait and real CPU work in one sample: the peak lies inside the grid, where the CPU binds.

Each ``__getitem__`` waits ``DLTUNE_MIXED_WAIT_MS`` (default 3 ms) on (simulated) storage, then spends
``DLTUNE_MIXED_CPU_MS`` (default 1.5 ms) of CPU decoding: one worker keeps a third of a core busy, so
throughput rises with workers until the usable cores are busy (about 3 workers per core), then flattens
and falls as more workers only add switching. Neither end of the worker axis is right: the case tests
that tuning finds an interior peak (the knee and between steps), not only an edge.

    dltune recommend benchmarks/datasets/mixed.py --batch-size 64
"""

from __future__ import annotations

import os
import time

import torch
from torch.utils.data import Dataset

WAIT_MS = float(os.environ.get("DLTUNE_MIXED_WAIT_MS", "3"))
CPU_MS = float(os.environ.get("DLTUNE_MIXED_CPU_MS", "1.5"))


class Thumbnails(Dataset):
    def __init__(self, n: int = 100_000) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        time.sleep(WAIT_MS / 1000)
        t = time.perf_counter()
        while time.perf_counter() - t < CPU_MS / 1000:
            pass
        return torch.full((3, 32, 32), i % 251, dtype=torch.uint8), i % 10


dataset = Thumbnails()
