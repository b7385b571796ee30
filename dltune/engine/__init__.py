"""The loader engine: configs, registries of samplers / collate / pinning, and build_loader."""

from dltune.engine.build import (
    EpochLoader,
    Extras,
    build_loader,
    make_batch_sampler,
    make_collate,
    make_sampler,
)
from dltune.engine.collate import COLLATE
from dltune.engine.dataset_file import DatasetSpec, load_dataset
from dltune.engine.pinning import PINNING, DevicePrefetcher, PinningStrategy
from dltune.engine.samplers import BATCH_SAMPLERS, SAMPLERS
from dltune.engine.threads import WorkerThreads
from dltune.engine.wrapper import LoaderWrapper
from dltune.model.loader import LoaderConfig

__all__ = [
    "BATCH_SAMPLERS",
    "COLLATE",
    "PINNING",
    "SAMPLERS",
    "DatasetSpec",
    "DevicePrefetcher",
    "EpochLoader",
    "Extras",
    "LoaderConfig",
    "LoaderWrapper",
    "PinningStrategy",
    "WorkerThreads",
    "build_loader",
    "load_dataset",
    "make_batch_sampler",
    "make_collate",
    "make_sampler",
]
