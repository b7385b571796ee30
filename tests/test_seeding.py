"""A seed repeats index order and every worker's random streams; workers get different streams."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

import dltune
from dltune import LoaderConfig


class Draws(Dataset):
    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int):
        info = get_worker_info()
        return {
            "index": i,
            "worker": info.id if info else -1,
            "np": float(np.random.rand()),
            "py": random.random(),
            "torch": float(torch.rand(1)),
        }


def run(seed: int, workers: int) -> list[dict]:
    loader = dltune.build_loader(
        Draws(), LoaderConfig(batch_size=2, shuffle=True, num_workers=workers, seed=seed)
    )
    out = []
    for batch in loader:
        out += [
            {k: (v[j].item() if hasattr(v[j], "item") else v[j]) for k, v in batch.items()} for j in range(2)
        ]
    return out


def test_same_seed_same_order_and_streams_with_workers() -> None:
    a, b = run(11, 2), run(11, 2)
    assert a == b
    c = run(12, 2)
    assert [r["index"] for r in a] != [r["index"] for r in c]


def test_workers_draw_different_streams() -> None:
    rows = run(5, 2)
    by_worker = {w: [r for r in rows if r["worker"] == w] for w in (0, 1)}
    assert by_worker[0] and by_worker[1]
    for stream in ("np", "py", "torch"):
        # the first draw of worker 0 differs from the first draw of worker 1, in every library
        assert by_worker[0][0][stream] != by_worker[1][0][stream]


def test_main_process_repeatable() -> None:
    assert run(3, 0) == run(3, 0)
