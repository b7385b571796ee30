"""dltune: profile and tune PyTorch DataLoader configurations for your dataset on your machine."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from dltune.engine import (
    BATCH_SAMPLERS,
    COLLATE,
    PINNING,
    SAMPLERS,
    DevicePrefetcher,
    LoaderConfig,
    build_loader,
    load_dataset,
    make_batch_sampler,
    make_collate,
    make_sampler,
)

if TYPE_CHECKING:
    from dltune.recommend import Recommendation

__version__ = "0.1.0"


def load_recommendation(path: str | os.PathLike[str]) -> Recommendation:
    """Read a recommendation saved by ``dltune recommend`` (its JSON, or the run folder holding it).

    Imported lazily so that ``import dltune`` stays light (no scipy) for code that only builds loaders.
    """
    from dltune.api import load_recommendation as load

    return load(path)


__all__ = [
    "BATCH_SAMPLERS",
    "COLLATE",
    "PINNING",
    "SAMPLERS",
    "DevicePrefetcher",
    "LoaderConfig",
    "__version__",
    "build_loader",
    "load_recommendation",
    "load_dataset",
    "make_batch_sampler",
    "make_collate",
    "make_sampler",
]
