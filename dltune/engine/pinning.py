"""Pinning strategies: how batches reach the accelerator.

- ``off``: pageable host memory; the training loop copies batches itself.
- ``pin_memory``: DataLoader's own pinning thread puts batches in page-locked memory, which makes
  host-to-device copies faster and lets them run asynchronously (``non_blocking=True``).
- ``device-prefetch``: pinned memory plus a wrapper that copies the *next* batch to the GPU on a side
  CUDA stream while the current one is being used, so the copy overlaps compute.

A strategy is a :class:`PinningStrategy`; third parties register one under the ``dltune.pinning``
entry-point group or name it as ``module:attr``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from dltune.engine.registry import Registry
from dltune.engine.transfer import move_to, tensors_in
from dltune.engine.wrapper import LoaderWrapper


@dataclass(frozen=True)
class PinningStrategy:
    name: str
    pin_memory: bool
    """The value passed to DataLoader's ``pin_memory``."""
    needs_accelerator: bool
    """True when the strategy cannot work (not merely gains nothing) without a CUDA device."""
    wrap: Callable[[Any, str], Iterable[Any]] | None = None
    """Wraps the built DataLoader, given the target device; None leaves it as it is."""
    description: str = ""


class DevicePrefetcher(LoaderWrapper):
    """Iterates a loader, copying batch i+1 to ``device`` on a side stream while batch i is used.

    Forwards what LoaderWrapper forwards; it never touches the loader's private state.
    """

    def __init__(self, loader: Any, device: str = "cuda") -> None:
        super().__init__(loader)
        self.device = torch.device(device)

    def __iter__(self) -> Iterator[Any]:
        stream = torch.cuda.Stream(device=self.device)
        source = iter(self.loader)

        def copy_next() -> tuple[Any, bool]:
            try:
                batch = next(source)
            except StopIteration:
                return None, False
            with torch.cuda.stream(stream):
                return move_to(batch, self.device, non_blocking=True), True

        upcoming, more = copy_next()
        while more:
            current_stream = torch.cuda.current_stream(self.device)
            current_stream.wait_stream(stream)
            batch = upcoming
            for t in tensors_in(batch):
                # the caching allocator must not hand this memory to the side stream while it is in use
                t.record_stream(current_stream)
            upcoming, more = copy_next()
            yield batch


PINNING: Registry[PinningStrategy] = Registry("pinning strategy", "dltune.pinning")
PINNING.add(
    "off", PinningStrategy("off", pin_memory=False, needs_accelerator=False, description="pageable memory")
)
PINNING.add(
    "pin_memory",
    PinningStrategy(
        "pin_memory", pin_memory=True, needs_accelerator=False, description="DataLoader(pin_memory=True)"
    ),
)
PINNING.add(
    "device-prefetch",
    PinningStrategy(
        "device-prefetch",
        pin_memory=True,
        needs_accelerator=True,
        wrap=DevicePrefetcher,
        description="pinned memory + copy of the next batch to the GPU on a side CUDA stream",
    ),
)


def accelerator_available() -> bool:
    """True when a CUDA device can take batches (the only accelerator DataLoader pinning targets here)."""
    return bool(torch.cuda.is_available())
