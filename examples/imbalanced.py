"""Imbalanced classification (fraud / rare-disease style): 90% / 9% / 1% classes, balanced by sampling.

Uses dltune's ``weighted`` sampler: per-sample weights by inverse class frequency from the dataset's
``targets``, so every class appears about equally often in a batch. Samples are small feature vectors:
little work per sample, so moving them between processes can cost more than computing them.

    dltune bench examples/imbalanced.py
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

import dltune

SIZES = {0: 9000, 1: 900, 2: 100}
FEATURES = 64


class Transactions(Dataset):
    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.targets = [c for c, n in SIZES.items() for _ in range(n)]
        centres = rng.normal(0, 2, size=(len(SIZES), FEATURES)).astype(np.float32)
        self.features = centres[self.targets] + rng.normal(0, 1, (len(self.targets), FEATURES)).astype(
            np.float32
        )

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = self.features[index]
        x = x + np.random.normal(0, 0.05, x.shape).astype(np.float32)  # feature jitter augmentation
        return torch.from_numpy(np.log1p(np.abs(x)) * np.sign(x)), self.targets[index]


dataset = Transactions


def sampler(ds: Transactions) -> torch.utils.data.Sampler[int]:
    return dltune.make_sampler("weighted", ds, seed=0)


if __name__ == "__main__":
    ds = dataset()
    loader = dltune.build_loader(
        ds, dltune.LoaderConfig(batch_size=256), dltune.engine.Extras(sampler=sampler(ds))
    )
    counts = np.bincount(np.concatenate([y.numpy() for _, y in loader]), minlength=len(SIZES))
    print(f"class sizes {list(SIZES.values())}; drawn per class in one epoch: {counts.tolist()}")
