"""Plain-text description of a dataset file and one batch (what `dltune inspect` prints)."""

from __future__ import annotations

from typing import Any

import torch

from dltune.engine.dataset_file import DatasetSpec
from dltune.engine.transfer import batch_len, batch_nbytes
from dltune.model.loader import LoaderConfig
from dltune.units import human_bytes


def structure(batch: Any, indent: str = "  ") -> list[str]:
    if isinstance(batch, torch.Tensor):
        return [f"{indent}tensor {tuple(batch.shape)} {str(batch.dtype).removeprefix('torch.')}"]
    if isinstance(batch, dict):
        return [line for k, v in batch.items() for line in [f"{indent}{k}:", *structure(v, indent + "  ")]]
    if isinstance(batch, (list, tuple)):
        if len(batch) > 4 and not isinstance(batch[0], torch.Tensor):
            return [
                f"{indent}{type(batch).__name__} of {len(batch)}:",
                *structure(batch[0], indent + "  ")[:6],
            ]
        return [
            line for i, v in enumerate(batch) for line in [f"{indent}[{i}]", *structure(v, indent + "  ")]
        ]
    return [f"{indent}{type(batch).__name__} {batch!r}"[:100]]


def describe_batch(spec: DatasetSpec, cfg: LoaderConfig, batch: Any) -> str:
    kind = "IterableDataset" if spec.is_iterable else "map-style Dataset"
    try:
        size = f"{len(spec.dataset)} samples"
    except TypeError:
        size = "no len()"
    extras = spec.from_file
    lines = [
        f"{spec.target}: {type(spec.dataset).__name__} ({kind}, {size})",
        f"from the file: {', '.join(extras) if extras else 'dataset only'}",
        f"one batch: {batch_len(batch)} samples, {human_bytes(batch_nbytes(batch))} of tensors",
        *structure(batch),
        "built as:",
        f"  {cfg.to_code(from_file=spec.from_file)}",
    ]
    return "\n".join(lines)
