"""dltune: profile and tune PyTorch DataLoader configurations for your dataset on your machine.

The names below are imported on first use: ``import dltune`` loads neither torch nor pandas, so code
that only reads results (``dltune.load_run``, ``dltune.load_recommendation``) runs without them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dltune.version import __version__

if TYPE_CHECKING:
    from dltune.engine import (
        BATCH_SAMPLERS,
        COLLATE,
        PINNING,
        SAMPLERS,
        DevicePrefetcher,
        LoaderWrapper,
        WorkerThreads,
        build_loader,
        load_dataset,
        make_batch_sampler,
        make_collate,
        make_sampler,
    )
    from dltune.model import LoaderConfig
    from dltune.store import load_recommendation, load_run

_LAZY = {
    "BATCH_SAMPLERS": "dltune.engine",
    "COLLATE": "dltune.engine",
    "PINNING": "dltune.engine",
    "SAMPLERS": "dltune.engine",
    "DevicePrefetcher": "dltune.engine",
    "LoaderWrapper": "dltune.engine",
    "WorkerThreads": "dltune.engine",
    "build_loader": "dltune.engine",
    "load_dataset": "dltune.engine",
    "make_batch_sampler": "dltune.engine",
    "make_collate": "dltune.engine",
    "make_sampler": "dltune.engine",
    "LoaderConfig": "dltune.model",
    "load_recommendation": "dltune.store",
    "load_run": "dltune.store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dltune' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "BATCH_SAMPLERS",
    "COLLATE",
    "PINNING",
    "SAMPLERS",
    "DevicePrefetcher",
    "LoaderConfig",
    "LoaderWrapper",
    "WorkerThreads",
    "__version__",
    "build_loader",
    "load_dataset",
    "load_recommendation",
    "load_run",
    "make_batch_sampler",
    "make_collate",
    "make_sampler",
]
assert set(__all__) == {*_LAZY, "__version__"}
