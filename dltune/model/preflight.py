"""What the preflight learnt about the dataset before any trial: its size, cost per sample, bytes.

Filled in by ``dltune.bench.trial.preflight_job`` (in a watched child); planning, tuning and the
recommendation read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preflight:
    length: int | None = None
    """len(dataset); None for an IterableDataset without __len__."""
    iterable: bool = False
    from_file: tuple[str, ...] = ()
    """Objects the dataset file defines besides the dataset (collate_fn, sampler, batch_sampler...)."""
    load_s: float = 0.0
    """Seconds to import the file and build the dataset."""
    sample_s: float = 0.0
    """Seconds of __getitem__ (or __iter__) per sample, in one process."""
    collate_s_per_sample: float = 0.0
    bytes_per_sample: float | None = None
    """Bytes of a collated batch per sample (what crosses processes and /dev/shm)."""
    tensors_fixed: float = 0.0
    tensors_per_sample: float = 0.0
    """Tensors in a collated batch of B samples: ``tensors_fixed + tensors_per_sample x B`` (a stacked
    batch has a fixed count, a list-collated one grows with B). Each tensor of a batch in flight holds
    an open file in the main process (torch's file_descriptor sharing)."""
    probe_samples: int = 0
    shardable: bool = False
    """The dataset has a ``shard(rank, world_size)`` method: with ranks, each rank loads only its part."""

    def tensors_per_batch(self, batch_size: int) -> float:
        """Tensors in one collated batch of ``batch_size`` samples (0 when the preflight did not count)."""
        return self.tensors_fixed + self.tensors_per_sample * batch_size
