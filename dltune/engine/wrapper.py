"""LoaderWrapper: the base for anything that wraps a DataLoader (EpochLoader, DevicePrefetcher, plugins).

A wrapper forwards what training code reads from a loader (``len``, ``dataset``, ``sampler``,
``batch_sampler``, ``batch_size``) and keeps the wrapped one as ``loader``; a subclass only writes
``__iter__``. It never touches the DataLoader's private state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class LoaderWrapper:
    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def __len__(self) -> int:
        return len(self.loader)

    @property
    def dataset(self) -> Any:
        return self.loader.dataset

    @property
    def sampler(self) -> Any:
        return self.loader.sampler

    @property
    def batch_sampler(self) -> Any:
        return self.loader.batch_sampler

    @property
    def batch_size(self) -> Any:
        return self.loader.batch_size

    def __iter__(self) -> Iterator[Any]:
        return iter(self.loader)
