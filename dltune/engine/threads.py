"""Threads per loading process: a worker_init_fn that sets torch's intra-op threads in each worker."""

from __future__ import annotations

from collections.abc import Callable

import torch


class WorkerThreads:
    """worker_init_fn: ``torch.set_num_threads(threads)`` in the worker, then the user's own init (picklable).

    DataLoader starts every worker with one thread; a transform that runs torch ops on large tensors
    can use more, at the price of more runnable threads than cores when ranks x workers is large.
    """

    def __init__(self, threads: int, then: Callable[[int], None] | None = None) -> None:
        self.threads = threads
        self.then = then

    def __call__(self, worker_id: int) -> None:
        torch.set_num_threads(self.threads)
        if self.then is not None:
            self.then(worker_id)
