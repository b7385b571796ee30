"""Turning what went wrong in a trial into a status, a reason and a hint (pure).

DataLoader reports a dead worker as a RuntimeError whose message names the signal, and re-raises a
worker's exception with the worker's traceback in the message; both are read here.
"""

from __future__ import annotations

import re
import signal
import traceback
from dataclasses import dataclass
from typing import Any

from torch.utils.data import Dataset

from dltune.model import FAILED, KILLED, MEMORY, REJECTED, SHM, TIMEOUT
from dltune.units import human_bytes

INDEX_NOTE = "dltune: failed on sample index "


class IndexNoting(Dataset):
    """Wraps a map-style dataset; an exception in ``__getitem__`` gets a note with the sample index.

    The note travels with the traceback text DataLoader sends back from a worker. Attributes
    (``targets``, ``lengths``...) are forwarded so samplers built from it see the real dataset.
    """

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: Any) -> Any:
        try:
            return self.dataset[index]
        except Exception as exc:
            exc.add_note(f"{INDEX_NOTE}{index}")
            raise

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":  # during unpickling, before __init__ state exists
            raise AttributeError(name)
        return getattr(self.dataset, name)


class IndexNotingBatched(IndexNoting):
    """The same, for datasets with ``__getitems__`` (batched fetching), which DataLoader then calls."""

    def __getitems__(self, indices: list[int]) -> Any:
        try:
            return self.dataset.__getitems__(indices)
        except Exception as exc:
            exc.add_note(f"{INDEX_NOTE}{indices[0]}..{indices[-1]} (a __getitems__ batch)")
            raise


def note_indices(dataset: Any) -> Any:
    if hasattr(dataset, "__getitems__"):
        return IndexNotingBatched(dataset)
    return IndexNoting(dataset)


OPEN_FILES = "Too many open files"
OPEN_FILES_HINT = (
    "raise the limit (ulimit -n 65536), lower num_workers x prefetch_factor, collate fewer "
    "tensors per batch (stack or concatenate lists of tensors), or call "
    "torch.multiprocessing.set_sharing_strategy('file_system') in the training script"
)


@dataclass(frozen=True)
class Failure:
    status: str
    reason: str
    hint: str | None = None


def _tail(text: str, lines: int = 8) -> str:
    rows = [r for r in text.rstrip().splitlines() if r.strip()]
    return "\n".join(rows[-lines:])


_SIGNAL_WORDS = {
    "bus error": "Bus error",
    "segmentation fault": "Segmentation fault",
    "floating point exception": "Floating point exception",
}


def classify_exception(
    exc: BaseException, *, shm_needed: int | None = None, shm_free: int | None = None, stderr: str = ""
) -> Failure:
    """Status and reason for an exception raised while building or iterating a loader.

    ``stderr``: what the trial's processes printed. torch 2.x often reports a dead worker only as
    "exited unexpectedly"; its worker signal handlers print which signal it was to stderr.
    """
    if isinstance(getattr(exc, "reason", None), str) and isinstance(getattr(exc, "hint", None), str):
        return Failure(FAILED, exc.reason, exc.hint)  # type: ignore[attr-defined]  # measured, with its cause
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    msg = str(exc)
    if "exited unexpectedly" in msg and "killed by signal" not in msg:
        said = next((name for word, name in _SIGNAL_WORDS.items() if word in stderr.lower()), None)
        if said:
            msg += f" (killed by signal: {said})"
    shm = ""
    if shm_needed:
        shm = f" The batches in flight need about {human_bytes(shm_needed)}"
        shm += f"; /dev/shm has {human_bytes(shm_free)} free." if shm_free is not None else "."
    if (
        "Bus error" in msg
        or "out of shared memory" in msg
        or ("No space left on device" in msg and "shm" in text)
    ):
        return Failure(
            SHM,
            "a worker died with SIGBUS: /dev/shm (shared memory) is too small for the batches in flight."
            + shm,
            "give the container more shared memory (docker run --shm-size=8g, or a larger /dev/shm), "
            "or lower num_workers x prefetch_factor or the batch size",
        )
    oom_hint = (
        "use fewer workers, a smaller batch or prefetch_factor, or keep per-sample data out of Python "
        "lists/dicts (copy-on-read grows each worker's memory); `dmesg | grep -i oom` confirms an OOM kill"
    )
    m = re.search(r"killed by signal: (\w[\w ]*)", msg)
    if m:
        sig = m.group(1).strip()
        if sig.lower() == "killed":
            return Failure(
                MEMORY,
                "a worker was killed with SIGKILL, almost always the kernel's out-of-memory "
                "killer: the workers together used more RAM than there is",
                oom_hint,
            )
        return Failure(
            KILLED,
            f"a DataLoader worker was killed by signal {sig}",
            "run the dataset with num_workers=0 to see the crash in the main process",
        )
    if "exited unexpectedly" in msg:
        return Failure(
            MEMORY,
            f"a DataLoader worker died without a word ({msg.splitlines()[0]}): that is "
            "SIGKILL, almost always the kernel's out-of-memory killer (or os._exit in the dataset)",
            oom_hint,
        )
    if "items of ancdata" in text or OPEN_FILES in text:
        return Failure(
            FAILED,
            "the main process ran out of open files: torch passes every tensor of a batch in flight "
            "from a worker as a file descriptor, and num_workers x prefetch_factor batches of this "
            f"dataset's tensors need more than the limit ({msg.splitlines()[0][:120] if msg else type(exc).__name__})",
            OPEN_FILES_HINT,
        )
    if "timed out after" in msg and "DataLoader" in msg:
        return Failure(
            TIMEOUT, msg.splitlines()[0], "a worker hangs: look for blocking I/O or locks in __getitem__"
        )
    m = re.search(re.escape(INDEX_NOTE) + r"(.+)", text)
    where = f" at sample index {m.group(1).strip()}" if m else ""
    origin = re.search(r"Caught (\w+) in DataLoader worker process (\d+)", msg)
    name = origin.group(1) if origin else type(exc).__name__
    in_worker = f" (in worker {origin.group(2)})" if origin else ""
    # a worker's exception arrives as text: its own traceback is inside the message
    tail = _tail(msg) if origin else _tail(text)
    lines = [line.strip() for line in (msg if origin else str(exc)).splitlines() if line.strip()]
    detail = (lines[-1] if origin else lines[0])[:300] if lines else ""
    return Failure(
        FAILED,
        f"the dataset raised {name}{where}{in_worker}" + (f": {detail}" if detail else ""),
        f"fix the dataset; its traceback ends:\n{tail}",
    )


def classify_rejection(exc: BaseException) -> Failure:
    hint = getattr(exc, "hint", None)
    return Failure(REJECTED, f"DataLoader rejected the configuration: {getattr(exc, 'message', exc)}", hint)


def classify_exit(
    exitcode: int | None, *, watchdog: str | None, limit_s: float, memory_note: str = "", stderr: str = ""
) -> Failure:
    """Status for a trial process that ended without sending a result (``stderr``: the end of what it
    and its workers printed)."""
    if watchdog == "timeout" and OPEN_FILES in stderr:
        # a worker that cannot open the file for a tensor it sends loses the batch (the queue's feeder
        # thread prints the error and goes on); the main process then waits for it forever
        return Failure(
            TIMEOUT,
            f"no result after {limit_s:.0f} s: the loader hangs because a worker ran out of open files "
            "(its stderr says 'Too many open files'): torch shares every tensor of a batch as a file "
            "descriptor, and the batch it could not send never arrives",
            OPEN_FILES_HINT,
        )
    if watchdog == "timeout":
        return Failure(
            TIMEOUT,
            f"no result after {limit_s:.0f} s: the loader hangs (or is far too slow)",
            "look for a blocking call in __getitem__ or a deadlock with fork; raise --timeout if "
            "the data is just slow",
        )
    if watchdog == "memory":
        return Failure(
            MEMORY,
            f"stopped by the memory watchdog before it could exhaust the machine{memory_note}",
            "use fewer workers or a smaller batch/prefetch_factor; or raise the limit with --max-memory",
        )
    if exitcode is not None and exitcode < 0:
        sig = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else str(-exitcode)
        if sig == "SIGKILL":
            return Failure(
                MEMORY,
                "the trial process was killed with SIGKILL, most likely by the kernel's out-of-memory killer",
                "use fewer workers or a smaller batch",
            )
        if sig == "SIGBUS":
            return Failure(
                SHM,
                "the trial process died with SIGBUS: /dev/shm is too small",
                "give the container more shared memory (docker --shm-size)",
            )
        return Failure(
            KILLED,
            f"the trial process died from {sig}",
            "run the dataset with num_workers=0 to see where it crashes",
        )
    return Failure(
        KILLED,
        f"the trial process exited with code {exitcode} without a result",
        "the dataset may call sys.exit or os._exit; run it with num_workers=0",
    )
