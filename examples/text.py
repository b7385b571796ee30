"""Text classification over variable-length token sequences, padded per batch (the pad collate).

Tokenises generated sentences (lower-case, split, hashed into a 30k vocabulary) in ``__getitem__``.
``lengths`` lets the ``bucket`` batch sampler group similar lengths so that padding wastes little:

    dltune bench examples/text.py
    # or, in a config: batch_sampler = "bucket"
"""

from __future__ import annotations

import re
import zlib

import numpy as np
import torch
from torch.utils.data import Dataset

import dltune

VOCAB = 30_000
WORDS = [
    "the",
    "data",
    "loader",
    "waits",
    "on",
    "the",
    "disk",
    "while",
    "the",
    "model",
    "trains",
    "on",
    "a",
    "batch",
    "of",
    "tokens",
    "and",
    "nothing",
    "else",
    "happens",
    "because",
    "every",
    "worker",
    "is",
    "busy",
    "decoding",
    "sentences",
]


class Reviews(Dataset):
    def __init__(self, count: int = 4000) -> None:
        rng = np.random.default_rng(0)
        self.lengths = [int(v) for v in np.clip(rng.lognormal(4.0, 0.7, count), 4, 512)]
        self.texts = [" ".join(rng.choice(WORDS, n)) + "." for n in self.lengths]
        self.targets = [int(v) for v in rng.integers(0, 2, count)]

    def shard(self, rank: int, world_size: int) -> Reviews:
        """Rank ``rank``'s part (every ``world_size``-th review): under torchrun each rank keeps only its
        own texts; dltune measures what that saves against the full corpus on every rank."""
        part = Reviews.__new__(Reviews)
        part.lengths = self.lengths[rank::world_size]
        part.texts = self.texts[rank::world_size]
        part.targets = self.targets[rank::world_size]
        return part

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        tokens = re.findall(r"\w+|[^\w\s]", self.texts[index].lower())
        ids = [zlib.crc32(t.encode()) % VOCAB for t in tokens]
        return torch.tensor(ids, dtype=torch.long), self.targets[index]


dataset = Reviews
collate_fn = dltune.make_collate("pad")

if __name__ == "__main__":
    loader = dltune.build_loader(
        dataset(), dltune.LoaderConfig(batch_size=16, batch_sampler="bucket", seed=0, collate="pad")
    )
    tokens, lengths, mask, labels = next(iter(loader))
    print(
        f"padded {tuple(tokens.shape)}, lengths {lengths.tolist()}, real tokens {int(mask.sum())}/{mask.numel()}"
    )
