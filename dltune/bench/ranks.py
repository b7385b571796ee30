"""A trial with several ranks: every rank's DataLoader measured at the same time, as a training job runs.

The watched child (dltune.bench.child) hosts torch.distributed's elastic agent, the launcher behind
``torchrun`` (``elastic_launch``: c10d rendezvous, one process per rank, spawned); each rank joins the
process group (gloo without GPUs, nccl with them), builds its loader through the engine over its
shard (dltune.engine.sharding), waits at a barrier, measures its window and keeps loading until every
rank's window has ended (so each window ran under the others' load), then the figures are gathered.
No home-made launcher or rendezvous: on one machine the rendezvous listens on 127.0.0.1 only.

A rank that fails is named; a rank that hangs is found by the stage files the ranks leave in the
trial's temporary folder (which is removed, with torchelastic's logs, when the trial ends).
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from dltune.bench.child import ChildOutcome, die_with_parent, run_child
from dltune.bench.failures import Failure
from dltune.bench.trial import (
    DEFAULT_START_METHOD,
    Built,
    failure_of,
    measure_built,
    memory_budget,
    prepare,
    trial_fields,
)
from dltune.model import FAILED, KILLED, OK, SWEEP, TIMEOUT, LoaderConfig, MeasureSettings, TrialResult
from dltune.model.node import RankResult

NODE_JOB = "dltune.bench.ranks:node_job"
LAUNCH_S = 30.0
"""Time on top of a trial's own timeout for the ranks to start, meet and shut down."""

# ---------------------------------------------------------------- in each rank ---------------------


class _Stages:
    """Each rank writes the stage it is in to a file of its own: a hang is named by the files."""

    def __init__(self, folder: str, rank: int) -> None:
        self.path = Path(folder, f"rank{rank}")

    def __call__(self, stage: str) -> None:
        self.path.write_text(stage)


class Linger:
    """measure_loader's ``linger``: once this rank's window has ended, a barrier is entered without
    waiting on it; the rank loads on until every rank has arrived."""

    def __init__(self, stage: Callable[[str], None] | None = None) -> None:
        self.work: Any = None
        self.stage = stage

    def __call__(self) -> bool:
        import torch.distributed as dist

        if self.work is None:
            if self.stage is not None:
                self.stage("measured, waiting for the other ranks")
            self.work = dist.barrier(async_op=True)
        return bool(self.work.is_completed())

    def finish(self) -> None:
        import torch.distributed as dist

        if self.work is None:  # the window never ended (the loader failed): still meet the others
            dist.barrier()
        else:
            self.work.wait()


def rank_job(payload: dict[str, Any]) -> dict[str, Any] | None:
    """One rank: join, build the loader over this rank's shard, measure together, gather. Local rank 0
    returns every rank's figures (or the first rank's failure); the others return None."""
    import torch
    import torch.distributed as dist

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local, node = int(os.environ.get("LOCAL_RANK", "0")), int(os.environ.get("GROUP_RANK", "0"))
    stage = _Stages(payload["progress_dir"], rank)
    stage("joining the process group")
    join(payload)
    try:
        stage("building its loader")
        built = prepare({**payload, "shard": (rank, world)})
        problems = gather(built if isinstance(built, dict) else None, world)
        bad = next((r for r, p in enumerate(problems) if p), None)
        if bad is not None or not isinstance(built, Built):
            stage("done")
            return {**problems[bad or 0], "rank": bad} if local == 0 else None
        dist.barrier()
        stage("measuring")
        linger = Linger(stage)
        out = measure_built(built, payload, linger)
        linger.finish()
        sampler = getattr(built.loader, "sampler", None)
        shard_len = len(sampler) if sampler is not None and not built.spec.is_iterable else None
        del built
        stage("gathering")
        mine = {
            "rank": rank,
            "local_rank": local,
            "node": node,
            "host": socket.gethostname(),
            "shard_len": shard_len,
            "threads": torch.get_num_threads(),
            **out,
        }
        every = gather(mine, world)
        stage("done")
        return {"ranks": every, "node": node} if local == 0 else None
    finally:
        dist.destroy_process_group()


def join(payload: dict[str, Any]) -> None:
    """In a rank the agent started: die with the agent, set the threads, join the process group
    (gloo without GPUs, nccl with them; each rank on its own GPU)."""
    die_with_parent()  # a rank never outlives the agent that started it
    import torch
    import torch.distributed as dist

    cfg: LoaderConfig = payload["config"]
    settings: MeasureSettings = payload["settings"]
    torch.set_num_threads(cfg.threads or 1)  # torchrun's OMP_NUM_THREADS=1 for several ranks, unless chosen
    cuda = settings.device != "none" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
    dist.init_process_group(
        "nccl" if cuda else "gloo", timeout=timedelta(seconds=payload["collective_timeout_s"])
    )


def gather(obj: Any, world: int) -> list[Any]:
    import torch.distributed as dist

    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


# ---------------------------------------------------------------- in the agent's process -----------


def node_job(payload: dict[str, Any]) -> dict[str, Any]:
    """In the watched child: start this machine's ranks with torch.distributed's elastic agent and
    return local rank 0's answer, or the failure of the first rank that failed."""
    answers = launch(payload, rank_job)
    if "failure" in answers:
        return answers
    for answer in answers["answers"].values():
        if answer is not None:
            return dict(answer)
    return {"failure": {"status": FAILED, "reason": "no rank answered", "hint": None}}


def launch(
    payload: dict[str, Any], entry: Callable[[dict[str, Any]], Any], start_method: str = "spawn"
) -> dict[str, Any]:
    """Run ``entry(payload)`` in every rank of this machine (``payload["settings"]``: how many, how many
    machines, where they meet) under torch.distributed's elastic agent: ``{"answers": {local rank:
    its return value}}``, or ``{"failure": ..., "rank": ...}`` naming the first rank that failed."""
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, Std
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    # the agent logs every failure at length; dltune reports it in one line
    for name in ("torch.distributed.elastic", "torch.multiprocessing"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    settings: MeasureSettings = payload["settings"]
    cfg: LoaderConfig = payload["config"]
    os.environ["OMP_NUM_THREADS"] = str(cfg.threads or 1)  # as torchrun sets it for several ranks
    one_machine = settings.nnodes == 1
    config = LaunchConfig(
        min_nodes=settings.nnodes,
        max_nodes=settings.nnodes,
        nproc_per_node=settings.nproc_per_node,
        run_id=payload["run_id"],
        rdzv_backend="c10d",
        rdzv_endpoint="127.0.0.1:0" if one_machine else settings.rdzv_endpoint,
        rdzv_timeout=int(payload["rdzv_timeout_s"]),
        max_restarts=0,
        monitor_interval=0.1,
        start_method=start_method,
        local_addr="127.0.0.1" if one_machine else None,
        logs_specs=DefaultLogsSpecs(log_dir=payload["log_dir"], redirects=Std.ALL),
    )
    try:
        return {"answers": dict(elastic_launch(config, entry)(payload))}
    except ChildFailedError as exc:
        rank, failure = exc.get_first_failure()
        return {"failure": _rank_failure(rank, failure.exitcode, failure.message), "rank": rank}
    except Exception as exc:  # the rendezvous: a machine that never came, a port in use
        return {
            "failure": {
                "status": FAILED,
                "reason": f"the ranks could not start together: {type(exc).__name__}: {exc}",
                "hint": "with several machines, run the same command on each, with the same "
                "--rdzv-endpoint (reachable from all of them) and --nnodes",
            }
        }


def _rank_failure(rank: int, exitcode: int, message: Any) -> dict[str, Any]:
    import signal

    text = message.get("message", "") if isinstance(message, dict) else str(message or "")
    if "To enable traceback" in text:  # torchelastic's words for a process that exited without raising
        text = "it exited without an exception (sys.exit or os._exit in the dataset?)"
    if exitcode < 0:
        sig = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else str(-exitcode)
        return {
            "status": KILLED,
            "reason": f"rank {rank} died from {sig}",
            "hint": "SIGKILL is most often the out-of-memory killer: fewer workers per rank, or shard the "
            "dataset so each rank holds only its part",
        }
    return {
        "status": FAILED,
        "reason": f"rank {rank} failed (exit code {exitcode}): {text or 'no message'}",
        "hint": f"run `dltune bench` without --nproc-per-node to see the error in one process; rank {rank} "
        "loads a different shard than rank 0",
    }


# ---------------------------------------------------------------- in the parent --------------------


def run_node_trial(
    target: str,
    config: LoaderConfig,
    settings: MeasureSettings,
    *,
    role: str = SWEEP,
    repeat: int = 0,
    shm_needed: int | None = None,
    shm_free: int | None = None,
    process: Any = None,
    path_map: Any = None,
    full_index: bool = False,
) -> TrialResult:
    """Measure ``config`` on every rank at once (``settings.nproc_per_node`` ranks on each of
    ``settings.nnodes`` machines). Failures come back as results, with the rank named.
    ``full_index``: every rank keeps the whole dataset (its ``shard()`` ignored; dltune.bench.shard_memory)."""
    from dltune.bench.metrics import metrics_from_window
    from dltune.hardware.cpu import probe_cpu
    from dltune.node import node_figures

    limit, reserve = memory_budget(settings)
    with tempfile.TemporaryDirectory(prefix="dltune-ranks-") as tmp:
        progress = Path(tmp, "stages")
        progress.mkdir()
        payload = {
            "target": target,
            "config": config,
            "settings": settings,
            "shm_needed": shm_needed * settings.nproc_per_node if shm_needed else None,
            "shm_free": shm_free,
            "default_start_method": DEFAULT_START_METHOD,
            "path_map": path_map,
            "full_index": full_index,
            "progress_dir": str(progress),
            "log_dir": str(Path(tmp, "logs")),
            "run_id": _run_id(settings, config, role, repeat),
            "rdzv_timeout_s": LAUNCH_S if settings.nnodes == 1 else settings.timeout_s,
            "collective_timeout_s": settings.timeout_s + 2 * LAUNCH_S,  # the watchdog fires first
        }
        limit_s = settings.timeout_s + LAUNCH_S
        out = run_child(NODE_JOB, payload, timeout_s=limit_s, memory_limit=limit, reserve=reserve)
        stages = {int(p.name[4:]): p.read_text() for p in progress.iterdir() if p.name[4:].isdigit()}
    common = trial_fields(config, out, repeat, role)
    answer = out.result or {}
    if "ranks" in answer and all("window" in r for r in answer["ranks"]):
        ranks, raws = [], []
        for r in answer["ranks"]:
            own_main, own_workers = r["window"].get("pss", (0, 0))
            m, raw = metrics_from_window(
                r["window"],
                settings.segments,
                config.num_workers,
                own_main,
                own_workers,
                settings.step_ms,
                r.get("start_method", ""),
            )
            raws.append(raw)
            ranks.append(
                RankResult(
                    rank=r["rank"],
                    local_rank=r["local_rank"],
                    node=r["node"],
                    host=r["host"],
                    shard_len=r["shard_len"],
                    metrics=m,
                    threads=r["threads"],
                )
            )
        metrics, figures = node_figures(ranks, config, settings.nproc_per_node, probe_cpu().usable)
        raw = raws[ranks.index(next(r for r in ranks if r.rank == figures.slowest_rank))]
        return TrialResult(status=OK, metrics=metrics, raw=raw, ranks=tuple(ranks), node=figures, **common)
    if "ranks" in answer:  # every rank measured, one of them failed: name the first
        bad = next(r for r in answer["ranks"] if "window" not in r)
        answer = {"failure": bad.get("failure"), "rank": bad["rank"]}
    f = _named(answer, out, limit_s, stages)
    return TrialResult(status=f.status, reason=f.reason, hint=f.hint, **common)


def _named(answer: dict[str, Any], out: ChildOutcome, limit_s: float, stages: dict[int, str]) -> Failure:
    """The failure, with the rank it happened in."""
    own = answer.get("failure")
    f = Failure(own["status"], own["reason"], own.get("hint")) if own else failure_of(out, limit_s)
    rank = answer.get("rank")
    if answer.get("failure") and rank is not None and not f.reason.startswith("rank "):
        return Failure(f.status, f"rank {rank}: {f.reason}", f.hint)
    if f.status == TIMEOUT and stages:
        order = ["joining", "building", "measuring", "measured", "gathering", "done"]

        def at(rank: int) -> int:
            return next((i for i, s in enumerate(order) if stages[rank].startswith(s)), 0)

        behind = min(at(r) for r in stages)
        stuck = sorted(r for r in stages if at(r) == behind)
        who = ", ".join(f"rank {r} ({stages[r]})" for r in stuck)
        others = "" if len(stuck) == len(stages) else "; the other ranks had got further"
        return Failure(TIMEOUT, f"no result after {limit_s:.0f} s: stuck in {who}{others}", f.hint)
    return f


def _run_id(settings: MeasureSettings, config: LoaderConfig, role: str, repeat: int) -> str:
    """The rendezvous id: one machine draws a fresh one; several machines derive the same one."""
    if settings.nnodes == 1:
        return uuid.uuid4().hex
    return f"{settings.rdzv_id or 'dltune'}-{role}-{config.key()}-{repeat}"
