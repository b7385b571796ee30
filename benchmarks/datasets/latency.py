"""A storage-latency-bound map dataset: every sample waits on (simulated) remote storage, then decodes a little.

Each ``__getitem__`` sleeps ``DLTUNE_LATENCY_MS`` (default 4 ms: an object-store or network-filesystem
round trip) and then ``DLTUNE_CPU_MS`` (default 0.25 ms) of CPU work, so throughput climbs almost linearly with workers
far past the core count, until the CPU or the main process binds.

    dltune recommend benchmarks/datasets/latency.py --batch-size 64
"""

from __future__ import annotations

import os
import time

import torch
from torch.utils.data import Dataset

LATENCY_MS = float(os.environ.get("DLTUNE_LATENCY_MS", "4"))
CPU_MS = float(os.environ.get("DLTUNE_CPU_MS", "0.25"))


class RemoteRecords(Dataset):
    def __init__(self, n: int = 200_000, dim: int = 256) -> None:
        self.n, self.dim = n, dim

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        time.sleep(LATENCY_MS / 1000)  # the round trip to storage
        t = time.perf_counter()
        while time.perf_counter() - t < CPU_MS / 1000:  # "decode": real CPU work
            pass
        g = torch.Generator().manual_seed(i)
        return torch.rand(self.dim, generator=g)


dataset = RemoteRecords()
