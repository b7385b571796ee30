"""Moving batches to a device: one recursive helper shared by the prefetcher and the trial's H2D timing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch


def move_to(batch: Any, device: torch.device | str, non_blocking: bool = False) -> Any:
    """Copy every tensor inside ``batch`` (tensors, dicts, lists, tuples, namedtuples) to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, Mapping):
        return type(batch)({k: move_to(v, device, non_blocking) for k, v in batch.items()})  # type: ignore[call-arg]
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(move_to(v, device, non_blocking) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device, non_blocking) for v in batch)
    return batch


def tensors_in(batch: Any) -> list[torch.Tensor]:
    """Every tensor inside a batch, depth first."""
    if isinstance(batch, torch.Tensor):
        return [batch]
    if isinstance(batch, Mapping):
        return [t for v in batch.values() for t in tensors_in(v)]
    if isinstance(batch, (list, tuple)):
        return [t for v in batch for t in tensors_in(v)]
    return []


def batch_nbytes(batch: Any) -> int:
    """Bytes of tensor data in a batch (what crosses from workers through shared memory)."""
    return sum(t.element_size() * t.nelement() for t in tensors_in(batch))


def batch_len(batch: Any) -> int:
    """Samples in a batch: the leading dimension of its first tensor, or the length of its first list."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.dim() else 1
    if isinstance(batch, Mapping):
        return batch_len(next(iter(batch.values()))) if batch else 0
    if isinstance(batch, (list, tuple)) and batch:
        first = batch[0]
        if isinstance(first, (torch.Tensor, Mapping, list, tuple)):
            return batch_len(first)
        return len(batch)
    return 1
