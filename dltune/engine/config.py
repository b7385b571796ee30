"""The torch half of LoaderConfig: checks against the installed torch, its plugins and devices.

The data half (fields, TOML/JSON, key, label, the DataLoader call as text) is dltune.model.loader.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch.multiprocessing as mp
from torch.utils.data import DataLoader, IterableDataset

from dltune.errors import ConfigError
from dltune.model.loader import LoaderConfig

#: True when the installed torch's DataLoader takes ``in_order`` (torch >= 2.6); checked once, here.
SUPPORTS_IN_ORDER = "in_order" in inspect.signature(DataLoader.__init__).parameters

__all__ = ["SUPPORTS_IN_ORDER", "LoaderConfig", "pin_memory_of", "validate"]


def pin_memory_of(config: LoaderConfig) -> bool:
    """DataLoader's ``pin_memory`` for the config's pinning strategy (registered or a plugin's)."""
    from dltune.engine.pinning import PINNING

    return PINNING.get(config.pinning).pin_memory


def validate(
    config: LoaderConfig,
    dataset: Any = None,
    *,
    file_sampler: bool = False,
    file_batch_sampler: bool = False,
    accelerator: bool | None = None,
) -> list[str]:
    """Raise ConfigError for what DataLoader would reject or what makes no sense; return warnings.

    ``file_sampler`` / ``file_batch_sampler``: the dataset file supplies that object.
    ``accelerator``: whether a CUDA device is present (probed when None).
    """
    from dltune.engine.collate import COLLATE
    from dltune.engine.pinning import PINNING, accelerator_available
    from dltune.engine.samplers import BATCH_SAMPLERS, SAMPLERS

    warnings: list[str] = []
    if config.batch_size is not None and (not isinstance(config.batch_size, int) or config.batch_size < 1):
        raise ConfigError("batch_size", f"{config.batch_size!r} is not a positive integer", "use e.g. 32")
    if config.num_workers < 0:
        raise ConfigError("num_workers", f"{config.num_workers} is negative", "use 0 (main process) or more")
    has_batch_sampler = bool(config.batch_sampler) or (file_batch_sampler and not config.sampler)
    has_sampler = bool(config.sampler) or (file_sampler and not config.batch_sampler)
    if has_batch_sampler:
        src = (
            f"batch_sampler {config.batch_sampler!r}"
            if config.batch_sampler
            else "the dataset file's batch_sampler"
        )
        if config.shuffle:
            raise ConfigError(
                "shuffle",
                f"cannot be combined with {src}, which decides the order",
                "remove shuffle; shuffle inside the batch sampler instead",
            )
        if has_sampler:
            raise ConfigError("sampler", f"cannot be combined with {src}", "use one of the two")
        if not config.batch_sampler and (config.batch_size not in (1, None) or config.drop_last):
            raise ConfigError(
                "batch_size",
                f"cannot be set alongside {src}, which fixes the batches",
                "remove batch_size and drop_last, or drop the batch_sampler",
            )
    if has_sampler and config.shuffle:
        raise ConfigError(
            "shuffle",
            "cannot be combined with a sampler, which decides the order",
            "remove shuffle=True (use the 'random' sampler to shuffle)",
        )
    if config.num_workers == 0:
        for name, bad in (
            ("prefetch_factor", config.prefetch_factor is not None),
            ("persistent_workers", config.persistent_workers),
            ("multiprocessing_context", config.multiprocessing_context is not None),
        ):
            if bad:
                raise ConfigError(
                    name,
                    "needs num_workers > 0 (with 0 the main process loads the data)",
                    f"set num_workers >= 1 or remove {name}",
                )
    if config.prefetch_factor is not None and config.prefetch_factor < 1:
        raise ConfigError(
            "prefetch_factor", f"{config.prefetch_factor} is below 1", "use 2 (the default) or more"
        )
    if config.timeout < 0:
        raise ConfigError("timeout", f"{config.timeout} is negative", "use 0 (wait forever) or seconds > 0")
    if config.multiprocessing_context and config.multiprocessing_context not in mp.get_all_start_methods():
        raise ConfigError(
            "multiprocessing_context",
            f"{config.multiprocessing_context!r} is not available here",
            f"use one of {', '.join(mp.get_all_start_methods())}",
        )
    if not config.in_order and not SUPPORTS_IN_ORDER:
        raise ConfigError("in_order", "needs torch >= 2.6", "upgrade torch or remove in_order")
    if isinstance(dataset, IterableDataset) and (has_sampler or has_batch_sampler or config.shuffle):
        raise ConfigError(
            "sampler",
            "an IterableDataset takes no sampler, batch_sampler or shuffle",
            "shuffle inside the dataset's __iter__, or make it a map-style Dataset",
        )
    # names must resolve: an unknown name fails listing the choices
    if config.sampler:
        SAMPLERS.get(config.sampler)
    if config.batch_sampler:
        BATCH_SAMPLERS.get(config.batch_sampler)
    if config.collate:
        COLLATE.get(config.collate)
    strategy = PINNING.get(config.pinning)
    if accelerator is None:
        accelerator = accelerator_available()
    if not accelerator:
        if strategy.needs_accelerator:
            raise ConfigError(
                "pinning",
                f"{config.pinning!r} copies batches to a CUDA device and none is present",
                "use pinning='off' on this machine",
            )
        if strategy.pin_memory:
            warnings.append(
                "pin_memory=True without a CUDA device: pinning costs time and gains nothing here"
            )
    return warnings
