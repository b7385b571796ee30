"""Built-in collate functions, registered by name.

A collate factory is called as ``factory(**params)`` and returns the ``collate_fn`` given to
DataLoader. They are module-level classes so that spawned workers can unpickle them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import default_collate

from dltune.engine.registry import Registry

CollateFn = Callable[[list[Any]], Any]
COLLATE: Registry[Callable[..., CollateFn]] = Registry("collate function", "dltune.collate")


@COLLATE.register("default")
def default(**_: Any) -> CollateFn:
    """torch's ``default_collate``: stack tensors, numbers and arrays, recurse into tuples and dicts."""
    return default_collate


def pad_sequences(seqs: Sequence[torch.Tensor], pad_value: float = 0) -> tuple[torch.Tensor, ...]:
    """Pad tensors of shape (L_i, ...) to (B, max L, ...); return (padded, lengths, mask)."""
    tensors = [torch.as_tensor(s) for s in seqs]
    lengths = torch.tensor([t.shape[0] for t in tensors], dtype=torch.long)
    longest = int(lengths.max()) if len(tensors) else 0
    padded = tensors[0].new_full((len(tensors), longest, *tensors[0].shape[1:]), pad_value)
    for i, t in enumerate(tensors):
        padded[i, : t.shape[0]] = t
    mask = torch.arange(longest)[None, :] < lengths[:, None]
    return padded, lengths, mask


class PadCollate:
    """Pad variable-length sequences into one tensor plus lengths and a mask (True on real tokens).

    Samples may be a tensor (returns ``(padded, lengths, mask)``), a tuple whose first item is the
    sequence (returns ``(padded, lengths, mask, *rest collated)``), or a dict whose ``field`` is the
    sequence (returns the dict with ``field`` padded and ``{field}_lengths`` / ``{field}_mask`` added).
    """

    def __init__(self, pad_value: float = 0, field: str = "input_ids") -> None:
        self.pad_value = pad_value
        self.field = field

    def __call__(self, batch: list[Any]) -> Any:
        first = batch[0]
        if isinstance(first, Mapping):
            out = default_collate([{k: v for k, v in s.items() if k != self.field} for s in batch])
            padded, lengths, mask = pad_sequences([s[self.field] for s in batch], self.pad_value)
            return {**out, self.field: padded, f"{self.field}_lengths": lengths, f"{self.field}_mask": mask}
        if isinstance(first, (tuple, list)):
            padded, lengths, mask = pad_sequences([s[0] for s in batch], self.pad_value)
            rest = default_collate([tuple(s[1:]) for s in batch]) if len(first) > 1 else ()
            return (padded, lengths, mask, *rest)
        return pad_sequences(batch, self.pad_value)

    def __repr__(self) -> str:
        return f"PadCollate(pad_value={self.pad_value!r}, field={self.field!r})"


@COLLATE.register("pad")
def pad(pad_value: float = 0, field: str = "input_ids") -> CollateFn:
    """Variable-length sequences to a padded tensor plus lengths and mask."""
    return PadCollate(pad_value=pad_value, field=field)


class ListCollate:
    """Detection-style batches: stack the images, keep each sample's targets as they are, in a list.

    Samples are ``(image, target)``; targets (boxes, labels, masks...) differ in size per sample, so
    they cannot be stacked. Images of different sizes come back as a list too.
    """

    def __call__(self, batch: list[Any]) -> tuple[Any, list[Any]]:
        images = [torch.as_tensor(s[0]) for s in batch]
        targets = [s[1] if len(s) == 2 else tuple(s[1:]) for s in batch]
        if all(img.shape == images[0].shape for img in images):
            return torch.stack(images), targets
        return images, targets

    def __repr__(self) -> str:
        return "ListCollate()"


@COLLATE.register("list")
def list_collate(**_: Any) -> CollateFn:
    """Stack images, keep per-sample targets in a list (object detection)."""
    return ListCollate()
