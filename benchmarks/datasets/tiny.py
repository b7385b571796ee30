"""Tiny rows already in memory: a sample costs microseconds, so handing it between processes costs more
than making it, and DataLoader's default (num_workers=0) is the fastest. Tuning should see that in a few
trials.

    dltune recommend benchmarks/datasets/tiny.py --batch-size 64
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class Rows(Dataset):
    def __init__(self, n: int = 100_000, dim: int = 16) -> None:
        self.data = torch.arange(n * dim, dtype=torch.float32).reshape(n, dim)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.data[i]


dataset = Rows
