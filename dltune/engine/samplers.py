"""Built-in samplers and batch samplers, registered by name.

A sampler factory is called as ``factory(dataset, seed=seed, **params)``; a batch-sampler factory as
``factory(dataset, batch_size=..., drop_last=..., seed=seed, **params)``. Both return objects that
DataLoader takes as they are: ``len()`` works, indices cover the dataset as their contract says, and
they pickle (spawned workers never see them, but users save them with checkpoints).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import (
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

from dltune.engine.registry import Registry
from dltune.errors import ConfigError

SAMPLERS: Registry[Any] = Registry("sampler", "dltune.samplers")
BATCH_SAMPLERS: Registry[Any] = Registry("batch sampler", "dltune.batch_samplers")


def seeded_generator(seed: int | None) -> torch.Generator | None:
    """A torch.Generator fixed by ``seed``, or None (torch draws its own seed)."""
    if seed is None:
        return None
    return torch.Generator().manual_seed(int(seed))


def _values_from(dataset: Any, value: Any, attrs: Sequence[str], what: str, field: str) -> list[Any]:
    """Resolve a per-sample list given as a list, as an attribute name, or from the usual attributes."""
    param = field.rpartition(".")[2]
    if isinstance(value, str):
        attrs, value = [value], None
    if value is not None:
        values = list(value)
    else:
        found = next((a for a in attrs if hasattr(dataset, a)), None)
        if found is None:
            raise ConfigError(
                field,
                f"the dataset has no {' or '.join(repr(a) for a in attrs)} attribute to read {what} from",
                f"give the dataset a {attrs[0]!r} attribute (one value per sample), "
                f"or pass {param}=[...] in the sampler parameters",
            )
        values = list(getattr(dataset, found))
    if len(values) != len(dataset):
        raise ConfigError(
            field,
            f"{len(values)} {what} for {len(dataset)} samples: there must be one per sample",
        )
    return values


@SAMPLERS.register("sequential")
def sequential(dataset: Any, seed: int | None = None) -> Sampler[int]:
    """Indices 0..n-1 in order (DataLoader's default with shuffle=False)."""
    return SequentialSampler(dataset)


@SAMPLERS.register("random")
def random(dataset: Any, seed: int | None = None, replacement: bool = False) -> Sampler[int]:
    """A random permutation each epoch; the same permutations run after run for the same seed."""
    return RandomSampler(dataset, replacement=replacement, generator=seeded_generator(seed))


def class_balanced_weights(labels: Sequence[Any]) -> list[float]:
    """Per-sample weights by inverse class frequency: every class is drawn equally often on average."""
    counts = Counter(labels)
    return [1.0 / counts[label] for label in labels]


@SAMPLERS.register("weighted")
def weighted(
    dataset: Any,
    seed: int | None = None,
    weights: Sequence[float] | None = None,
    labels: Sequence[Any] | str | None = None,
    num_samples: int | None = None,
    replacement: bool = True,
) -> Sampler[int]:
    """WeightedRandomSampler with one weight per *sample* (not per class).

    Give ``weights`` directly, or leave them out to balance classes: labels come from ``labels``
    (a list or an attribute name) or the dataset's ``targets`` / ``labels`` attribute.
    """
    if weights is None:
        weights = class_balanced_weights(
            _values_from(dataset, labels, ("targets", "labels"), "labels", "sampler_params.labels")
        )
    elif len(weights) != len(dataset):
        raise ConfigError(
            "sampler_params.weights",
            f"{len(weights)} weights for {len(dataset)} samples: WeightedRandomSampler takes one weight "
            "per sample, not per class",
            "for class weights, pass labels (or let the dataset's 'targets' be used) and dltune will "
            "compute per-sample weights",
        )
    return WeightedRandomSampler(
        list(weights),
        num_samples=num_samples or len(dataset),
        replacement=replacement,
        generator=seeded_generator(seed),
    )


@SAMPLERS.register("distributed")
def distributed(
    dataset: Any,
    seed: int | None = None,
    num_replicas: int | None = None,
    rank: int | None = None,
    shuffle: bool = True,
    drop_last: bool = False,
) -> Sampler[int]:
    """DistributedSampler; world size and rank come from torch.distributed when it is initialised.

    The engine calls ``set_epoch`` at the start of every epoch, so each epoch is shuffled differently.
    """
    if num_replicas is None:
        num_replicas = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    if rank is None:
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    return DistributedSampler(
        dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed or 0, drop_last=drop_last
    )


class SequentialSubsetSampler(Sampler[int]):
    """The given indices, in the given order."""

    def __init__(self, indices: Sequence[int]) -> None:
        self.indices = list(indices)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


@SAMPLERS.register("subset")
def subset(
    dataset: Any,
    seed: int | None = None,
    indices: Sequence[int] | None = None,
    fraction: float | None = None,
    count: int | None = None,
    shuffle: bool = True,
) -> Sampler[int]:
    """A subset: explicit ``indices``, or the first ``count`` / ``fraction`` of the dataset."""
    n = len(dataset)
    if indices is None:
        if count is None and fraction is None:
            raise ConfigError("sampler_params", "the subset sampler needs indices, count or fraction")
        if fraction is not None and not 0 < fraction <= 1:
            raise ConfigError("sampler_params.fraction", f"{fraction} is not in (0, 1]")
        k = count if count is not None else max(1, math.floor(n * float(fraction or 1)))
        indices = range(min(k, n))
    bad = [i for i in indices if not 0 <= i < n]
    if bad:
        raise ConfigError("sampler_params.indices", f"index {bad[0]} is outside the dataset (0..{n - 1})")
    if shuffle:
        return SubsetRandomSampler(list(indices), generator=seeded_generator(seed))
    return SequentialSubsetSampler(indices)


class LengthBucketBatchSampler(Sampler[list[int]]):
    """Batches of samples of similar length, so padding wastes little.

    Each epoch: shuffle all indices (seeded, epoch-aware), cut them into pools of ``pool_batches``
    batches, sort each pool by length, cut it into batches, and shuffle the order of the batches.
    Every index appears exactly once per epoch (``drop_last`` drops one short batch at most per pool).
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        drop_last: bool = False,
        seed: int | None = None,
        pool_batches: int = 50,
        shuffle: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ConfigError("batch_size", f"{batch_size} is not a positive batch size")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.seed = 0 if seed is None else int(seed)
        self.pool_batches = pool_batches
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        n = len(self.lengths)
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(n, generator=g).tolist() if self.shuffle else list(range(n))
        pool = self.batch_size * self.pool_batches
        batches: list[list[int]] = []
        for start in range(0, n, pool):
            chunk = sorted(order[start : start + pool], key=self.lengths.__getitem__)
            for b in range(0, len(chunk), self.batch_size):
                batch = chunk[b : b + self.batch_size]
                if len(batch) == self.batch_size or not self.drop_last:
                    batches.append(batch)
        if self.shuffle:
            perm = torch.randperm(len(batches), generator=g).tolist()
            batches = [batches[i] for i in perm]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        if not self.drop_last:
            return sum(
                math.ceil(min(self.batch_size * self.pool_batches, len(self.lengths) - s) / self.batch_size)
                for s in range(0, len(self.lengths), self.batch_size * self.pool_batches)
            )
        return len(self._batches())


@BATCH_SAMPLERS.register("bucket")
def bucket(
    dataset: Any,
    batch_size: int,
    drop_last: bool = False,
    seed: int | None = None,
    lengths: Sequence[int] | str | None = None,
    pool_batches: int = 50,
    shuffle: bool = True,
) -> Sampler[list[int]]:
    """Length-bucketing batch sampler; lengths from ``lengths`` (list or attribute) or ``dataset.lengths``."""
    values = _values_from(dataset, lengths, ("lengths",), "lengths", "batch_sampler_params.lengths")
    return LengthBucketBatchSampler(values, batch_size, drop_last, seed, pool_batches, shuffle)
