"""How many of a trial's workers the dataset fed: workers that made at least one batch.

More workers than the dataset can feed only idle: an IterableDataset that splits its shards among the workers
gives none to a worker past the shard count (16 shards: 30 workers read the same as 16, with 14 more
processes), and a map-style epoch of fewer batches than workers leaves the last ones without work (each epoch
hands out its batches from worker 0 on). Each worker counts the batches it makes into a shared array, through
the loader's own ``collate_fn`` (wrapped: DataLoader calls it in the worker for every batch), so the count is
exact and needs no private DataLoader state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from multiprocessing.sharedctypes import RawArray
from typing import Any

from torch.utils.data import DataLoader, get_worker_info

from dltune.engine.wrapper import LoaderWrapper


class CountBatches:
    """A collate function that adds one to its worker's slot of ``counts``, then collates as before."""

    def __init__(self, collate: Callable[[Any], Any], counts: Any) -> None:
        self.collate, self.counts = collate, counts

    def __call__(self, batch: Any) -> Any:
        info = get_worker_info()
        if info is not None and info.id < len(self.counts):
            self.counts[info.id] += 1  # each worker writes only its own slot: no lock needed
        return self.collate(batch)


def count_batches(loader: Any, workers: int) -> Any | None:
    """Make ``loader``'s workers count the batches they make; returns the shared counts, one per worker (None
    for the main process alone, or a loader that is no DataLoader underneath its wrappers)."""
    inner = loader
    while isinstance(inner, LoaderWrapper):
        inner = inner.loader
    if workers <= 0 or not isinstance(inner, DataLoader):
        return None
    counts = RawArray("q", workers)
    inner.collate_fn = CountBatches(inner.collate_fn, counts)
    return counts


def fed_workers(counts: Sequence[int] | None) -> int | None:
    """How many workers made at least one batch (None where not counted)."""
    return None if counts is None else sum(1 for c in counts if c > 0)
