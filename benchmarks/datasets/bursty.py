"""A slow, bursty detection-style dataset: heavy-tailed per-sample cost, variable boxes, list collate.

Each sample waits on storage for a heavy-tailed time (most are quick, a few take many times longer:
large images, cold cache) and does a little CPU work; batches are lists of variable-size targets.
With a handful of workers, batches arrive a few per second in bursts of ``num_workers``, and one slow
batch holds back the in-order stream unless workers can run ahead (``prefetch_factor``): a window
that holds a few bursts cannot rank configurations 10-30% apart.

    dltune recommend benchmarks/datasets/bursty.py --batch-size 64
"""

from __future__ import annotations

import math
import os
import random
import time
from typing import Any

import torch
from torch.utils.data import Dataset

SCALE_MS = float(os.environ.get("DLTUNE_BURSTY_MS", "12"))
CPU_MS = float(os.environ.get("DLTUNE_CPU_MS", "0.5"))


class Scenes(Dataset):
    def __init__(self, n: int = 20_000) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        rng = random.Random(i)
        wait = SCALE_MS * math.exp(rng.gauss(0.0, 1.0))  # lognormal: median SCALE_MS, a long tail
        time.sleep(wait / 1000)
        t = time.perf_counter()
        while time.perf_counter() - t < CPU_MS / 1000:
            pass
        boxes = rng.randint(1, 40)
        return {
            "image": torch.zeros(3, 64, 64, dtype=torch.uint8),
            "boxes": torch.rand(boxes, 4),
            "labels": torch.randint(0, 80, (boxes,)),
        }


def collate_fn(batch: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "image": torch.stack([b["image"] for b in batch]),
        "boxes": [b["boxes"] for b in batch],
        "labels": [b["labels"] for b in batch],
    }


dataset = Scenes()
