"""One trial: build the loader for a configuration and measure it, in a watched child process.

Each trial of a sweep runs in a fresh interpreter of its own (the spawn start method), as the
user's training process does: measured side by side, the same loop ran about 5% slower in a child
of a forkserver that had torch preloaded (benchmarks/overhead.py). Tuning runs its trials one
after another in one fresh interpreter (``process=``), re-importing the dataset file for each, so
that no configuration inherits another's dataset state. The child machinery is dltune.bench.child;
the jobs it runs are here.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, NamedTuple

from dltune.bench.checkout import PathMap, remap
from dltune.bench.child import STDERR_LOG, ChildOutcome, WatchedProcess, run_child
from dltune.bench.failures import Failure, classify_exception, classify_exit, classify_rejection, note_indices
from dltune.bench.measure import ProcessSampler, epoch_length, measure_loader, sample_counter
from dltune.model import OK, SWEEP, LoaderConfig, MeasureSettings, TrialResult
from dltune.units import human_bytes

TRIAL_JOB = "dltune.bench.trial:trial_job"
PREFLIGHT_JOB = "dltune.bench.trial:preflight_job"

# ---------------------------------------------------------------- in the child ---------------------


def _quiet() -> None:
    warnings.filterwarnings("ignore", message=".*worker processes in total.*")
    warnings.filterwarnings("ignore", message=".*pin_memory.*")


def capture_stderr() -> Any:
    """Send this process's (and its future workers') stderr to a file, read on failure: the one the
    watching parent named (``STDERR_LOG``, emptied for each job; the parent reads it when it has to stop
    the job), else an anonymous temporary file."""
    path = os.environ.get(STDERR_LOG)
    log = open(path, "w+b") if path else tempfile.TemporaryFile()  # noqa: SIM115 - open for the trial's life
    sys.stderr.flush()
    os.dup2(log.fileno(), 2)
    return log


def tail_of(log: Any, size: int = 8192) -> str:
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - size))
    return str(log.read().decode(errors="replace"))


def device_copier(settings: MeasureSettings, cfg: LoaderConfig) -> Callable[[Any], None] | None:
    import torch

    from dltune.engine.config import pin_memory_of
    from dltune.engine.transfer import move_to

    device = settings.device
    if device == "none" or (device == "auto" and not torch.cuda.is_available()):
        return None
    dev = torch.device("cuda" if device == "auto" else device)

    def copy(batch: Any) -> None:
        move_to(batch, dev, non_blocking=pin_memory_of(cfg))
        torch.cuda.synchronize(dev)

    return copy


class Built(NamedTuple):
    spec: Any
    loader: Any
    config: LoaderConfig
    settings: MeasureSettings
    fed: Any = None
    """Per-worker batch counts (dltune.bench.fed), or None."""


def prepare(payload: dict[str, Any]) -> Built | dict[str, Any]:
    """In the child: load the dataset file and build the configuration's loader, or a failure answer.
    The base side of ``check --against`` first remaps the repository to the worktree."""
    from dltune.bench.fed import count_batches
    from dltune.engine.build import build_loader
    from dltune.engine.dataset_file import load_dataset
    from dltune.engine.sharding import for_rank
    from dltune.errors import DltuneError

    _quiet()
    # a spawned child inherits 'spawn' as its default start method; DataLoader must see the user's
    # default (fork on Linux up to Python 3.13), as it would in the user's own program
    mp.set_start_method(payload.get("default_start_method") or "fork", force=True)
    if payload.get("path_map") is not None:
        remap(payload["path_map"], dltune_root=str(Path(__file__).resolve().parents[2]))
    try:
        spec = load_dataset(payload["target"], fresh=True)  # no state left over from an earlier trial
    except DltuneError as exc:
        return {"failure": asdict(Failure("failed", exc.message, exc.hint))}
    try:
        cfg: LoaderConfig = payload["config"]
        dataset = spec.dataset
        if payload.get("shard") is not None:  # one rank of several: its shard (dltune.engine.sharding)
            rank, world = payload["shard"]
            file_sampler = spec.extras.sampler is not None or spec.extras.batch_sampler is not None
            dataset, cfg = for_rank(
                dataset,
                cfg,
                rank,
                world,
                iterable=spec.is_iterable,
                file_sampler=file_sampler,
                use_shard=not payload.get("full_index"),
            )
            spec = replace(spec, dataset=dataset)  # the full dataset is not kept alive beside the shard
        if not spec.is_iterable:
            dataset = note_indices(dataset)
        loader = build_loader(dataset, cfg, spec.extras)
        return Built(spec, loader, cfg, payload["settings"], count_batches(loader, cfg.num_workers))
    except (DltuneError, ValueError, TypeError) as exc:
        return {"failure": asdict(classify_rejection(exc))}


def trial_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Build the loader for one configuration and measure it. Returns a window or a failure."""
    built = prepare(payload)
    if isinstance(built, dict):
        return built
    return measure_built(built, payload)


def measure_built(
    built: Built, payload: dict[str, Any], linger: Callable[[], bool] | None = None
) -> dict[str, Any]:
    """Measure a built loader: ``{"window": ..., "start_method": ...}`` or ``{"failure": ...}``.
    ``linger``: see measure_loader (ranks keep loading until every rank's window has ended)."""
    from dltune.bench.fed import fed_workers

    spec, loader, cfg, settings, fed = built
    # the start-up transient: while the loop waits for the first batch, the other workers finish theirs
    # (a round) and, staggered by their start, part of the next; two rounds cover it. Skipping all
    # workers x prefetch_factor batches costs seconds at 64 workers and prefetch 4, for nothing: with a
    # loop that never waits on a step the queue does not fill up ahead of it.
    buffered = cfg.num_workers * min(cfg.prefetch_factor or 2, 2)
    log = capture_stderr()
    start_method = cfg.multiprocessing_context or mp.get_start_method()
    try:
        window = measure_loader(
            loader,
            settings,
            buffered,
            cpu=ProcessSampler(),
            to_device=device_copier(settings, cfg),
            cycle=cfg.num_workers,
            count=sample_counter(loader, cfg.batch_size, cfg.drop_last, spec.is_iterable),
            linger=linger,
            epoch_batches=epoch_length(loader, spec.is_iterable),
        )
    except Exception as exc:
        shm = payload.get("shm_needed")
        time.sleep(0.2)  # let dying workers' signal handlers finish writing
        failure = classify_exception(
            exc, shm_needed=shm, shm_free=payload.get("shm_free"), stderr=tail_of(log)
        )
        return {"failure": asdict(failure)}
    window.fed_workers = fed_workers(fed)  # over the whole trial: a worker fed once is not idle
    return {"window": asdict(window), "start_method": start_method if cfg.num_workers else "main"}


def tensor_growth(collate: Callable[[list[Any]], Any], samples: list[Any], full: int) -> tuple[float, float]:
    """(fixed, per sample): how the tensor count of a collated batch grows with its size, from the
    ``full`` tensors of all ``samples`` collated and those of half of them. A collate that fails on
    the half is taken as growing in proportion (the larger count: open files are a hard limit)."""
    from dltune.engine.transfer import tensors_in

    n, half = len(samples), len(samples) // 2
    if half < 1 or half == n:
        return 0.0, full / max(1, n)
    try:
        part = len(tensors_in(collate(samples[:half])))
    except Exception:
        return 0.0, full / n
    per_sample = max(0.0, (full - part) / (n - half))
    return max(0.0, full - per_sample * n), per_sample


def preflight_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Load the dataset and time a few samples in the main process: what the sweep plans with."""
    from torch.utils.data import default_collate

    from dltune.engine.dataset_file import load_dataset
    from dltune.engine.transfer import batch_nbytes, tensors_in
    from dltune.errors import DltuneError

    _quiet()
    t0 = time.perf_counter()
    try:
        spec = load_dataset(payload["target"])
    except DltuneError as exc:
        return {"error": exc.message, "hint": exc.hint}
    load_s = time.perf_counter() - t0
    ds = spec.dataset
    try:
        length: int | None = len(ds)
    except TypeError:
        length = None
    samples: list[Any] = []
    t1 = time.perf_counter()
    try:
        if spec.is_iterable:
            for s in ds:
                samples.append(s)
                if len(samples) >= payload.get("samples", 16):
                    break
        else:
            n = min(payload.get("samples", 16), length or 0)
            for i in range(n):  # appended one by one: a sample that raises is named by its index
                samples.append(ds[i])
    except Exception as exc:
        tail = "".join(traceback.format_exception(exc)[-3:]).rstrip()
        return {
            "error": f"the dataset raised {type(exc).__name__}: {exc} (reading sample {len(samples)})",
            "hint": f"fix the dataset; its traceback ends:\n{tail}",
        }
    per_sample = (time.perf_counter() - t1) / max(1, len(samples))
    if not samples:
        return {"error": "the dataset is empty", "hint": "check the data path the dataset reads from"}
    collate = spec.extras.collate_fn or default_collate
    t2 = time.perf_counter()
    try:
        batch = collate(samples)
    except Exception as exc:
        return {
            "error": f"collating {len(samples)} samples raised {type(exc).__name__}: {exc}",
            "hint": "samples of different shapes need a collate_fn (e.g. dltune's 'pad' or 'list')",
        }
    collate_s = time.perf_counter() - t2
    fixed, per_sample_tensors = tensor_growth(collate, samples, len(tensors_in(batch)))
    return {
        "length": length,
        "iterable": spec.is_iterable,
        "from_file": list(spec.from_file),
        "load_s": load_s,
        "sample_s": per_sample,
        "collate_s_per_sample": collate_s / len(samples),
        "bytes_per_sample": batch_nbytes(batch) / len(samples),
        "tensors_fixed": fixed,
        "tensors_per_sample": per_sample_tensors,
        "probe_samples": len(samples),
        "shardable": callable(getattr(spec.dataset, "shard", None)),
    }


# ---------------------------------------------------------------- in the parent --------------------

#: the start method DataLoader would use in the user's own program, read before dltune changes anything
DEFAULT_START_METHOD: str = mp.get_start_method(allow_none=True) or mp.get_context().get_start_method()


def memory_budget(settings: MeasureSettings) -> tuple[int, int]:
    """(limit for one trial's processes, RAM to keep free on the machine) in bytes."""
    from dltune.hardware.memory import probe_memory

    mem = probe_memory()
    limit = int(mem.usable_available * settings.memory_fraction)
    if settings.memory_limit:
        limit = min(limit, settings.memory_limit)
    reserve = min(512 << 20, mem.usable_total // 20)
    return limit, reserve


def run_trial(
    target: str,
    config: LoaderConfig,
    settings: MeasureSettings,
    *,
    role: str = SWEEP,
    repeat: int = 0,
    shm_needed: int | None = None,
    shm_free: int | None = None,
    process: WatchedProcess | None = None,
    path_map: PathMap | None = None,
) -> TrialResult:
    """Measure one configuration in a watched child: a fresh one, or ``process`` (reused across trials).

    Failures come back as results, never as exceptions."""
    from dltune.bench.metrics import metrics_from_window  # parent only: the child need not import scipy

    limit, reserve = memory_budget(settings)
    payload = {
        "target": target,
        "config": config,
        "settings": settings,
        "shm_needed": shm_needed,
        "shm_free": shm_free,
        "default_start_method": DEFAULT_START_METHOD,
        "path_map": path_map,
    }
    watch: dict[str, Any] = {"timeout_s": settings.timeout_s, "memory_limit": limit, "reserve": reserve}
    out = process.run(TRIAL_JOB, payload, **watch) if process else run_child(TRIAL_JOB, payload, **watch)
    common = trial_fields(config, out, repeat, role)
    if out.result and "window" in out.result:
        own_main, own_workers = out.result["window"].get("pss", (0, 0))
        metrics, raw = metrics_from_window(
            out.result["window"],
            settings.segments,
            config.num_workers,
            max(out.peak_main, own_main),
            max(out.peak_workers, own_workers),
            settings.step_ms,
            out.result.get("start_method", ""),
        )
        return TrialResult(status=OK, metrics=metrics, raw=raw, **common)
    f = failure_of(out, settings.timeout_s)
    return TrialResult(status=f.status, reason=f.reason, hint=f.hint, **common)


def trial_fields(config: LoaderConfig, out: ChildOutcome, repeat: int, role: str) -> dict[str, Any]:
    """The TrialResult fields every trial has, whatever its outcome."""
    return {
        "key": config.key(),
        "config": config,
        "duration_s": out.duration_s,
        "repeat": repeat,
        "role": role,
    }


def failure_of(out: ChildOutcome, limit_s: float) -> Failure:
    """What went wrong with a job that gave no answer of its kind: its own failure, or how it ended."""
    if out.result and "failure" in out.result:
        f = out.result["failure"]
        return Failure(f["status"], f["reason"], f.get("hint"))
    note = f" (peak {human_bytes(out.peak_main + out.peak_workers)}, limit {human_bytes(out.memory_limit)})"
    return classify_exit(
        out.exitcode, watchdog=out.watchdog, limit_s=limit_s, memory_note=note, stderr=out.stderr
    )
