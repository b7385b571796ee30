"""One side of ``check --against`` with ranks: every rank's loader alive between windows, all measured at once.

``LiveSide`` (dltune.bench.paired) keeps one loader alive in a watched child and asks it for windows.
With ranks the side is a node: its watched child runs torch.distributed's elastic agent (the launcher
behind ``torchrun``, as for a node trial: dltune.bench.ranks) in a thread, and the ranks stay up for the
whole block of windows. Each rank builds its loader over its shard and starts it; then rank 0 waits for
the numbered command files the child writes into the side's folder and broadcasts each command to the
other ranks. Every rank measures its window at once (a barrier starts them; each loads on until every
rank's window has ended), and rank 0 writes the ranks' rates into an answer file. The side's rate is
the node's: ranks x the slowest rank's rate, what a synchronous step sees (as dltune.node reports it).

To the parent the side looks like ``LiveSide``: ``open``, ``window``, ``rate``, each a job of the watched
child, watched for time and for the memory of the whole tree (agent, ranks, workers).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from dltune.bench.child import KEEP_WORKERS
from dltune.bench.paired import LiveSide, pin_workers, run_window, start_live
from dltune.bench.ranks import LAUNCH_S, Linger, gather, join, launch
from dltune.model import FAILED

OPEN_JOB = "dltune.bench.live_node:open_job"
WINDOW_JOB = "dltune.bench.live_node:window_job"
CLOSE_JOB = "dltune.bench.live_node:close_job"
POLL_S = 0.002
"""How often rank 0 (for a command) and the child (for an answer) look for the file they wait on."""
STOP = "stop"

# ---------------------------------------------------------------- files between child and rank 0 ---


def _write(path: Path, data: Any) -> None:
    """Whole or not at all: the reader never sees half a file."""
    part = path.with_suffix(".part")
    part.write_text(json.dumps(data))
    part.replace(path)


def _read_when_there(path: Path, alive: Any, timeout_s: float) -> Any:
    """The file's contents once it exists; None when ``alive()`` turns false or the time is up first."""
    end = time.monotonic() + timeout_s
    while not path.exists():
        if not alive() or time.monotonic() > end:
            return None
        time.sleep(POLL_S)
    return json.loads(path.read_text())


# ---------------------------------------------------------------- in each rank ---------------------


def live_rank_job(payload: dict[str, Any]) -> None:
    """One rank: join, build and start the loader over this rank's shard, then measure a window at
    each command until told to stop. Rank 0 writes ``open`` (every rank's failure or None) and
    ``answer<k>`` (every rank's rate, or its failure) into the side's folder."""
    import torch.distributed as dist

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    folder = Path(payload["folder"])
    join(payload)
    cores = payload.get("worker_cpus")
    if cores and hasattr(os, "sched_setaffinity"):  # before the workers start (pin_workers spreads them)
        os.sched_setaffinity(0, [cores[rank % len(cores)]])
    try:
        built = prepare_rank(payload, rank, world)
        live = built if "failure" in built else start_live(built["built"])
        if "failure" not in live:
            pin_workers(payload.get("worker_cpus"), rank * built["built"].config.num_workers)
        problems = gather(live if "failure" in live else None, world)
        if rank == 0:
            _write(folder / "open", {"failures": problems})
        if any(problems):
            return
        dist.barrier()
        for k in range(1_000_000):
            command = [None]
            if rank == 0:
                command[0] = _read_when_there(folder / f"command{k}", lambda: True, payload["idle_s"])
            dist.broadcast_object_list(command, src=0)
            if not isinstance(command[0], dict):  # told to stop, or the child went quiet
                return
            dist.barrier()  # every rank's window starts together
            linger = Linger()
            got = run_window(live, command[0]["seconds"], command[0]["tail"], linger)
            linger.finish()
            every = gather(got, world)
            if rank == 0:
                _write(folder / f"answer{k}", {"rates": every})
            if any(isinstance(g, dict) for g in every):
                return
    finally:
        dist.destroy_process_group()


def prepare_rank(payload: dict[str, Any], rank: int, world: int) -> dict[str, Any]:
    """``{"built": ...}`` (the rank's loader over its shard) or a failure answer."""
    from dltune.bench.trial import prepare

    built = prepare({**payload, "shard": (rank, world)})
    return built if isinstance(built, dict) else {"built": built}


# ---------------------------------------------------------------- in the side's watched child ------

_AGENT: dict[str, Any] = {}


def _agent_failure() -> dict[str, Any]:
    """Why the ranks stopped answering: the agent's own answer (a rank's failure, named), or a hang."""
    done = _AGENT.get("result") or {}
    if "failure" in done:
        f = done["failure"]
        rank = done.get("rank")
        reason = (
            f["reason"] if rank is None or f["reason"].startswith("rank ") else f"rank {rank}: {f['reason']}"
        )
        return {"failure": {**f, "reason": reason}}
    return {"failure": {"status": FAILED, "reason": "the ranks stopped answering", "hint": None}}


def _alive() -> bool:
    thread: threading.Thread | None = _AGENT.get("thread")
    return thread is not None and thread.is_alive()


def open_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Start the ranks (the elastic agent in a thread of this process) and wait until every rank's
    loader is started, or a rank failed."""
    result: dict[str, Any] = {}

    def agent() -> None:
        result.update(launch(payload, live_rank_job, payload["start_method"]))

    thread = threading.Thread(target=agent, name="dltune-elastic-agent", daemon=True)
    _AGENT.clear()
    _AGENT.update(thread=thread, result=result, folder=Path(payload["folder"]), k=0, idle_s=payload["idle_s"])
    thread.start()
    opened = _read_when_there(_AGENT["folder"] / "open", _alive, payload["idle_s"])
    if opened is None:
        return _agent_failure()
    bad = next(((r, f) for r, f in enumerate(opened["failures"]) if f), None)
    if bad is not None:
        rank, f = bad
        return {"failure": {**f["failure"], "reason": f"rank {rank}: {f['failure']['reason']}"}}
    return {KEEP_WORKERS: True}


def window_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Have every rank measure a window at once; the node's rate: ranks x the slowest rank's."""
    k = _AGENT["k"]
    _AGENT["k"] = k + 1
    _write(_AGENT["folder"] / f"command{k}", {"seconds": payload["seconds"], "tail": payload["tail"]})
    answer = _read_when_there(_AGENT["folder"] / f"answer{k}", _alive, _AGENT["idle_s"])
    if answer is None:
        return _agent_failure()
    rates = answer["rates"]
    bad = next(((r, g) for r, g in enumerate(rates) if isinstance(g, dict)), None)
    if bad is not None:
        rank, g = bad
        return {"failure": {**g["failure"], "reason": f"rank {rank}: {g['failure']['reason']}"}}
    return {KEEP_WORKERS: True, "rate": len(rates) * min(rates), "rates": rates}


def close_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Tell the ranks to stop and wait for the agent to see them out (their workers shut down first)."""
    folder = _AGENT.get("folder")
    if folder is not None:
        _write(folder / f"command{_AGENT['k']}", STOP)
        thread: threading.Thread = _AGENT["thread"]
        thread.join(payload["wait_s"])
    _AGENT.clear()
    return {}


# ---------------------------------------------------------------- in the parent --------------------


class LiveNode(LiveSide):
    """One side of the check as a node: ``settings.nproc_per_node`` ranks on this machine, each with
    its loader alive between windows. ``cpus`` is not used; ``worker_cpus`` (the usable cores, rotated
    per block) places every process of the node, the same way on both sides, so each core carries the
    same load from each side and a slow core slows both alike: rank r's main process on core r, worker
    k of rank r on core r x workers + k (mod the cores). Measured on the 2-core VM, A/A, 2 ranks a side,
    7 blocks each way interleaved: s.d. of the block medians 0.0095 placed vs 0.029 unplaced without
    workers, 0.022 vs 0.030 with 2 workers a rank (0.5 s windows; 1.5 s windows were no better)."""

    open_job = OPEN_JOB
    window_job = WINDOW_JOB

    def __init__(self, name: str, target: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(name, target, *args, **kwargs)
        self._folder = tempfile.mkdtemp(prefix="dltune-live-node-")
        settings = self.settings
        idle_s = settings.timeout_s + LAUNCH_S
        self._payload.update(
            folder=self._folder,
            idle_s=idle_s,
            log_dir=str(Path(self._folder, "logs")),
            run_id=uuid.uuid4().hex,
            rdzv_timeout_s=LAUNCH_S,
            collective_timeout_s=idle_s + LAUNCH_S,  # the watchdogs fire first
            cpus=None,
            start_method="fork",  # the ranks start from the side's interpreter, torch imported: 3x faster
        )
        self._watch["timeout_s"] = idle_s

    def stop(self) -> None:
        """Tell the ranks to stop, and the side's interpreter to exit after them, without waiting:
        both sides wind down at once (a side's interpreter takes about 1.5 s to exit, torch loaded)."""
        if self._proc.alive:  # a side whose job failed was closed already: nothing to tell
            self._proc.submit(CLOSE_JOB, {"wait_s": LAUNCH_S})
            self._proc.release()

    def __exit__(self, *exc: object) -> None:
        try:
            super().__exit__(*exc)  # waits for the interpreter to exit; kills its tree if it does not
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)


__all__ = ["LiveNode"]
