"""What one rank loads: its shard of the dataset, as a distributed training script splits it.

A map-style dataset gets ``DistributedSampler`` (through the 'distributed' sampler; the engine calls
``set_epoch`` every epoch) unless the configuration or the dataset file brings its own sampler; an
``IterableDataset`` is split by rank and by worker; a dataset with a ``shard(rank, world_size)`` method
shards itself (each rank then holds only its part: the way to save memory on every rank).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from torch.utils.data import IterableDataset, get_worker_info

from dltune.model.loader import LoaderConfig


class RankShard(IterableDataset[Any]):
    """An IterableDataset split by rank and worker: stream item i goes to the rank and worker
    ``i mod (world_size x workers)`` names, so the ranks' workers together yield every item once.
    Each of them still iterates the whole stream (only the items it keeps are returned): a dataset
    that can skip ahead should define ``shard(rank, world_size)`` instead."""

    def __init__(self, dataset: Any, rank: int, world_size: int) -> None:
        self.dataset, self.rank, self.world_size = dataset, rank, world_size

    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        streams = self.world_size * workers
        mine = self.rank * workers + worker
        for i, item in enumerate(self.dataset):
            if i % streams == mine:
                yield item


def for_rank(
    dataset: Any,
    config: LoaderConfig,
    rank: int,
    world_size: int,
    *,
    iterable: bool,
    file_sampler: bool,
    use_shard: bool = True,
) -> tuple[Any, LoaderConfig]:
    """The dataset and configuration rank ``rank`` of ``world_size`` loads. ``use_shard=False`` ignores
    the dataset's ``shard()`` (every rank keeps the full index and samples its part): what sharding
    saves is measured against that."""
    shard = getattr(dataset, "shard", None)
    if callable(shard) and use_shard:
        return shard(rank, world_size), config
    if iterable:
        return RankShard(dataset, rank, world_size), config
    if config.sampler or config.batch_sampler or file_sampler:
        return dataset, config  # the user's sampler decides what each rank reads
    params = {"num_replicas": world_size, "rank": rank, "shuffle": True, "drop_last": config.drop_last}
    return dataset, replace(config, sampler="distributed", sampler_params=params, shuffle=False)
