"""How far the worker search may go on this machine, and which limit stops it (pure).

Latency-bound datasets (samples that wait on storage or the network) keep gaining from workers far
past the core count, so the search has no fixed multiple of the cores: it climbs while throughput
rises, up to the first limit that would make more workers fail rather than slow down: RAM for the
workers' memory, /dev/shm for the batches in flight, open files, processes, or the user's own cap.
"""

from __future__ import annotations

from dataclasses import dataclass

from dltune.model.hardware import HardwareFacts
from dltune.search import GAP

HARD_CAP = 256
"""dltune never plans more workers than this for one loader (beyond it start-up alone takes seconds)."""
FDS_PER_WORKER = 8
"""Open files one worker costs the main process: its index and result queues, pipes..."""
# ...plus one per tensor of each batch it has in flight: torch shares a worker's batch with the main
# process as one file descriptor per tensor storage, held while the batch is alive there. Measured on
# the bursty benchmark (list collate, 129 tensors a batch, ulimit -n 20000): 128 workers x prefetch 2
# failed with "received 0 items of ancdata" (the main process out of open files).
FD_RESERVE = 128
"""Open files kept for everything else (the dataset's own files, torch, the watchdog)."""


@dataclass(frozen=True)
class Ceiling:
    workers: int
    """The most workers the search may try."""
    limit: str
    """Which limit that is, in words with its numbers."""


def worker_ceiling(
    hw: HardwareFacts,
    *,
    worker_bytes: float | None = None,
    main_bytes: float = 0.0,
    memory_limit: int | None = None,
    memory_fraction: float = 0.8,
    shm_per_worker: float | None = None,
    tensors_per_worker: float = 0.0,
    max_workers: int | None = None,
    ranks: int = 1,
) -> Ceiling:
    """The lowest of the limits that apply, in workers per loader. ``worker_bytes``: one worker's
    measured memory (PSS); ``main_bytes``: the main processes' memory on this machine;
    ``shm_per_worker``: /dev/shm one worker's batches in flight take (prefetch x batch bytes);
    ``tensors_per_worker``: the tensors in them (prefetch x tensors per batch), an open file each.

    With ``ranks`` loaders on the machine (``--nproc-per-node``) they share its memory, /dev/shm and
    process limit, so each gets a ``ranks``-th of them; open files are counted per process."""
    ranks = max(1, ranks)
    each = f" for each of {ranks} ranks" if ranks > 1 else ""
    found: list[Ceiling] = [Ceiling(HARD_CAP, f"dltune's cap of {HARD_CAP} workers per loader")]
    if max_workers is not None:
        found.append(Ceiling(max_workers, f"--max-workers {max_workers}"))
    if worker_bytes and worker_bytes > 0:
        budget = hw.memory.usable_available * memory_fraction
        if memory_limit:
            budget = min(budget, memory_limit)
        n = int((budget - main_bytes) / (worker_bytes * ranks))
        found.append(
            Ceiling(
                max(0, n),
                f"memory: about {worker_bytes / 2**20:,.0f} MiB per worker within {budget / 2**30:,.1f} GiB{each}",
            )
        )
    if shm_per_worker and shm_per_worker > 0 and hw.memory.shm_total:
        n = int(0.9 * hw.memory.shm_free / (shm_per_worker * ranks))
        found.append(
            Ceiling(
                max(0, n),
                f"/dev/shm: {shm_per_worker / 2**20:,.1f} MiB of batches in flight per worker, "
                f"{hw.memory.shm_free / 2**30:,.1f} GiB free{each}",
            )
        )
    if hw.memory.open_files_soft:
        per_worker = FDS_PER_WORKER + max(0.0, tensors_per_worker)
        n = int((hw.memory.open_files_soft - FD_RESERVE) / per_worker)
        tensors = (
            f" ({tensors_per_worker:,.0f} tensors of batches in flight per worker, a file each)"
            if tensors_per_worker >= 1
            else ""
        )
        found.append(
            Ceiling(
                max(0, n), f"open files{tensors}: the soft limit is {hw.memory.open_files_soft} (ulimit -n)"
            )
        )
    if hw.process_headroom is not None:
        found.append(
            Ceiling(
                max(0, (hw.process_headroom - 16) // ranks),
                f"processes: {hw.process_headroom} more may start (ulimit -u, cgroup pids.max){each}",
            )
        )
    return min(found, key=lambda c: c.workers)


def ladder(start: int, ceiling: int) -> list[int]:
    """Worker counts above ``start`` that the climb tries: doubling, then the ceiling itself, in place of the
    last doubling where that lies within ``GAP`` below it (two counts that close cannot be ranked by one
    screen each: on the bursty case the model's two promising counts were 64 and the ceiling 74, 40 s of
    trials each, and the climb measured between them anyway)."""
    out: list[int] = []
    w = max(1, start) * 2
    while w < ceiling:
        out.append(w)
        w *= 2
    if out and out[-1] * GAP > ceiling:
        out.pop()
    if ceiling > start and (not out or out[-1] != ceiling):
        out.append(ceiling)
    return out
