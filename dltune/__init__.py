"""dltune: profile and tune PyTorch DataLoader configurations for your dataset on your machine."""

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

__version__ = "0.1.0"


def load_recommendation(path: str) -> object:
    """Read a recommendation saved by ``dltune recommend`` (see dltune.api.load_recommendation)."""
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
