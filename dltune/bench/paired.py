"""Two live loaders, measured in alternating short windows: the side-by-side core of ``check --against``.

Why not one process per measurement: on a shared runner a core's speed drops by a third for a second
or two at a time (measured on the 2-core development VM: 1.5 s episodes at 0.65x). Trials seconds apart
in fresh processes land in different episodes; their log-ratios had a standard deviation of 0.24 for
8 s a pair. Here each side keeps its loader alive in a watched child (``WatchedProcess``), and the
parent asks base and candidate in turn for a short window (``WINDOW_S``): pairs a fraction of a second
apart share the episode, and a pair costs well under a second (A/A log-ratio s.d. 0.08 with no
workers, 0.09 with two, measured the same way).

Each window first takes the batches the side's workers prefetched while it was idle, untimed, then
times whole rounds of ``num_workers`` batches; after a window the parent waits for that side's workers
to refill their queue. (Superseded: both sides now run their windows at the same time; see ``duel``.)
Both sides' interpreters start with the same ``PYTHONHASHSEED``: with a random one each, the same code
in two processes ran a steady 1-3% apart for the whole run (dict and set layouts differ), a bias no
number of rounds averages out (A/A runs of the same harness: Hodges-Lehmann log-ratio -0.032 to
+0.004 over 5 runs with random seeds, -0.007 to +0.007 with a shared one).

A round is ABBA (or BAAB, alternating, and each configuration starting with the other order than the one
before): two pairs, whose log-ratios are averaged. The first round warms both sides up and is discarded.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from dltune.bench.checkout import PathMap
from dltune.bench.child import KEEP_WORKERS, WatchedProcess
from dltune.bench.failures import classify_exception
from dltune.bench.measure import SHORT_EPOCH, NoBatches, epoch_length, sample_counter
from dltune.errors import BenchmarkError
from dltune.model.loader import LoaderConfig
from dltune.model.settings import MeasureSettings
from dltune.sequential import MIN_N, Look, SequentialTest

OPEN_JOB = "dltune.bench.paired:open_job"
WINDOW_JOB = "dltune.bench.paired:window_job"
WINDOW_S = 0.5
"""A window lasts at least this long (and at least ``WINDOW_ROUNDS`` rounds of ``num_workers`` batches)."""
WINDOW_ROUNDS = 2
# An epoch of at most SHORT_EPOCH times a window's batches is short: the window then spans whole epochs, as a
# trial's does (dltune.bench.measure). Each epoch starts with a bubble while the workers make its first
# batches; a window that starts and ends at other points of it reads high or low by where it fell (measured
# with live loaders on the image example, 16-batch epochs: log-ratio s.d. 0.19-0.27 per window pair cut
# anywhere, 0.07-0.08 over whole epochs).
TAIL_S = 0.15
"""After its window a side keeps loading this long, so the other side's window ends under contention too."""

# ---------------------------------------------------------------- in the child ---------------------

_LIVE: dict[str, Any] = {}


def _endless(loader: Any) -> Iterator[tuple[Any, int]]:
    """Batches across epochs, each with its 1-based index in its epoch."""
    while True:
        k = 0
        for batch in loader:
            k += 1
            yield batch, k
        if k == 0:
            raise NoBatches(
                "an epoch yielded no batch: the dataset is empty, or can be iterated only once",
                "check the data path, and make __iter__ start a new pass each time it is called",
            )


def open_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Build the loader and start it; it stays alive in this process for ``window_job``."""
    if payload.get("cpus") and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, payload["cpus"])  # before the workers start: they inherit it
    from dltune.bench.trial import prepare

    built = prepare(payload)
    if isinstance(built, dict):
        return built
    live = start_live(built)
    if "failure" in live:
        return live
    _LIVE.clear()
    _LIVE.update(live)
    pin_workers(payload.get("worker_cpus"))
    return {KEEP_WORKERS: True}


def start_live(built: Any) -> dict[str, Any]:
    """A built loader (dltune.bench.trial.Built), started: its workers are up and its first batch taken.
    Returns what ``run_window`` needs, or a failure answer."""
    from dltune.bench.trial import capture_stderr, device_copier, tail_of

    spec, loader, cfg, settings, _ = built
    live = {
        "loader": loader,
        "stream": _endless(loader),
        "count": sample_counter(loader, cfg.batch_size, cfg.drop_last, spec.is_iterable),
        "cycle": max(1, cfg.num_workers),
        "epoch": epoch_length(loader, spec.is_iterable),
        "buffered": cfg.num_workers * (cfg.prefetch_factor or 2),
        "to_device": device_copier(settings, cfg),
        "step_s": settings.step_ms / 1000,
        "log": capture_stderr(),
    }
    try:
        next(live["stream"])  # the workers start here, not in the first window
    except Exception as exc:
        return {"failure": asdict(classify_exception(exc, stderr=tail_of(live["log"])))}
    return live


def pin_workers(cpus: list[int] | None, first: int = 0) -> None:
    """Worker k of this loader on core ``first`` + k (mod the cores): the other side's worker k shares
    that core."""
    import psutil

    if not cpus:
        return
    cpus = cpus[first % len(cpus) :] + cpus[: first % len(cpus)]
    with contextlib.suppress(psutil.Error, OSError, AttributeError):
        workers = sorted(psutil.Process().children(), key=lambda p: p.pid)
        for k, worker in enumerate(workers):
            worker.cpu_affinity([cpus[k % len(cpus)]])


def window_job(payload: dict[str, Any]) -> dict[str, Any]:
    """One window of the live loader (``run_window``)."""
    got = run_window(_LIVE, payload["seconds"], payload["tail"])
    return got if isinstance(got, dict) else {KEEP_WORKERS: True, "rate": got}


def run_window(
    live: dict[str, Any], seconds: float, tail: float, linger: Callable[[], bool] | None = None
) -> float | dict[str, Any]:
    """Take the prefetched batches untimed, time whole rounds (whole epochs where they are short, see
    ``SHORT_EPOCH``) for at least ``seconds``, then keep
    loading (untimed) for ``tail`` seconds, so that the other side's window, which ends a little
    later, is under the same contention to its end (and, with ``linger``, until it says every rank's
    window has ended). Returns the window's samples/s, or a failure answer."""
    from dltune.bench.trial import tail_of

    stream, count, cycle, epoch = live["stream"], live["count"], live["cycle"], live.get("epoch")
    to_device, step_s = live["to_device"], live["step_s"]
    rate = 0.0
    try:
        for _ in range(live["buffered"]):
            next(stream)
        t0 = time.perf_counter()
        n = samples = 0
        end = None
        while True:
            batch, k = next(stream)
            if to_device is not None:
                to_device(batch)
            if step_s:
                time.sleep(step_s)
            now = time.perf_counter()
            if end is None:
                n += 1
                samples += count(batch, k)
                whole = epoch is not None and epoch <= SHORT_EPOCH * n
                boundary = n % epoch == 0 if whole and epoch else n % cycle == 0
                if now - t0 >= seconds and boundary and n >= WINDOW_ROUNDS * cycle:
                    rate, end = samples / (now - t0), now
            elif now - end >= tail and (linger is None or linger()):
                break
    except Exception as exc:
        return {"failure": asdict(classify_exception(exc, stderr=tail_of(live["log"])))}
    return rate


# ---------------------------------------------------------------- in the parent --------------------


class LiveSide:
    """One side's loader, alive in a watched child between windows (``name``: 'base' or 'candidate')."""

    open_job = OPEN_JOB
    window_job = WINDOW_JOB

    def __init__(
        self,
        name: str,
        target: str,
        config: LoaderConfig,
        settings: MeasureSettings,
        path_map: PathMap | None = None,
        hash_seed: str = "0",
        cpus: list[int] | None = None,
        worker_cpus: list[int] | None = None,
    ) -> None:
        from dltune.bench.trial import DEFAULT_START_METHOD, memory_budget

        self.name, self.config, self.settings = name, config, settings
        limit, reserve = memory_budget(settings)
        self._watch: dict[str, Any] = {
            "timeout_s": settings.timeout_s,
            "memory_limit": limit // 2,
            "reserve": reserve,
        }
        self._payload = {
            "target": target,
            "config": config,
            "settings": settings,
            "default_start_method": DEFAULT_START_METHOD,
            "path_map": path_map,
            "cpus": cpus,
            "worker_cpus": worker_cpus,
        }
        self._proc = WatchedProcess(env={"PYTHONHASHSEED": hash_seed})

    def __enter__(self) -> LiveSide:
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.close()

    def _answer(self) -> dict[str, Any]:
        from dltune.bench.trial import failure_of

        out = self._proc.wait(**self._watch)
        if out.result is None or "failure" in out.result:
            f = failure_of(out, self.settings.timeout_s)
            raise BenchmarkError(
                f"the {self.name} side failed on {self.config.key()}: {f.status}: {f.reason}", f.hint
            )
        return out.result

    def start(self) -> None:
        """Boot the interpreter (both sides' boot at once)."""
        self._proc.start()

    def open(self) -> None:
        self._proc.submit(self.open_job, self._payload)

    def opened(self) -> None:
        self._answer()

    def window(self, seconds: float) -> None:
        """Start a window; ``rate()`` waits for it."""
        self._proc.submit(self.window_job, {"seconds": seconds, "tail": TAIL_S})

    def rate(self) -> float:
        return float(self._answer()["rate"])

    def stop(self) -> None:
        """Ask the side to wind down without waiting (both sides at once); leaving the ``with`` waits."""
        return None


Side = Callable[..., Any]
"""Makes a side, called ``(name, target, config, settings, path_map, hash_seed, cpus)``: LiveSide, or a
fake in tests (a context manager with ``start()``, ``open()``, ``opened()``, ``window(s)``, ``rate()``,
``stop()``)."""

BLOCK_PAIRS = 8
"""Pairs of windows per pair of processes, the first of them a warm-up (discarded)."""


@dataclass
class Duel:
    """One configuration measured side by side until decided or out of time."""

    config: LoaderConfig
    base: list[float] = field(default_factory=list)
    candidate: list[float] = field(default_factory=list)
    """Window rates (samples/s), the warm-up rounds left out."""
    blocks: list[float] = field(default_factory=list)
    """One per pair of processes: the median of its rounds' log(candidate / base) (what the test sees)."""
    rounds: int = 0
    """Pairs of windows counted (warm-ups left out)."""
    look: Look | None = None
    """The last look (its decision is the verdict; None: the budget ran out before ``MIN_N`` blocks)."""
    seconds: float = 0.0
    budget_s: float = 0.0


Progress = Callable[[float, float, str | None], None]
"""(seconds spent, the time budget, a line worth logging or None)."""


def _quiet(done: float, total: float, line: str | None) -> None:
    return None


def duel(
    base: str,
    candidate: str,
    configs: Sequence[LoaderConfig],
    settings: MeasureSettings,
    *,
    test: Callable[[], SequentialTest],
    max_time: float,
    max_rounds: int | None = None,
    on_progress: Progress = _quiet,
    base_paths: PathMap | None = None,
    side: Side = LiveSide,
    clock: Callable[[], float] = time.monotonic,
) -> list[Duel]:
    """Measure each configuration side by side until its sequential test decides, or its share of
    ``max_time`` (the time left split evenly over the configurations left) is spent.

    A configuration is measured in blocks: a fresh pair of processes (both with the same, per-block
    hash seed), ``BLOCK_PAIRS`` window pairs run together, the first discarded. A process pair can run a steady
    percent or two apart for reasons no round in it can see (where its memory and workers landed), so
    the block, not the round, is the unit the test counts: that difference becomes part of the
    noise the test sees instead of a bias it cannot."""
    start = clock()
    seeds = random.Random()  # per block, shared by both sides; random across blocks, so layouts average out
    usable = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    out: list[Duel] = []
    for i, cfg in enumerate(configs):
        left = len(configs) - i
        budget = max((max_time - (clock() - start)) / left, max_time / len(configs) / 4)
        d = Duel(cfg, budget_s=budget)
        t0 = clock()
        seq = test()
        while True:
            b = len(d.blocks)
            names = ("base", "candidate") if (i + b) % 2 == 0 else ("candidate", "base")
            seed = str(seeds.randrange(2**32))
            logs: list[float] = []
            # a side in one process (no workers) would stay on one core, the other side on another, and
            # the cores' speeds differ: both go on the same core, taking turns. With workers, worker k
            # of each side goes on core k (rotated per block): a slow core slows both sides alike.
            cpus = [usable[b % len(usable)]] if cfg.num_workers == 0 else None
            worker_cpus = usable[b % len(usable) :] + usable[: b % len(usable)]
            with contextlib.ExitStack() as stack:
                sides = {
                    name: stack.enter_context(
                        side(name, base if name == "base" else candidate, cfg, settings,
                             base_paths if name == "base" else None, seed, cpus, worker_cpus)
                    )
                    for name in names
                }  # fmt: skip
                for name in names:  # both interpreters boot at once...
                    sides[name].start()
                for name in names:  # ...and build their loaders at once
                    sides[name].open()
                for name in names:
                    sides[name].opened()
                for r in range(BLOCK_PAIRS):
                    order = names if r % 2 == 0 else names[::-1]
                    for name in order:  # both windows run at the same time
                        sides[name].window(WINDOW_S)
                    got = {name: sides[name].rate() for name in order}
                    if r == 0:  # warms both sides up (caches, allocator, CPU frequency): discarded
                        continue
                    d.base.append(got["base"])
                    d.candidate.append(got["candidate"])
                    logs.append(math.log(got["candidate"] / got["base"]))
                for name in names:
                    sides[name].stop()
            d.blocks.append(statistics.median(logs))
            d.rounds += len(logs)
            t = (clock() - t0) / budget
            if max_rounds:
                t = max(t, d.rounds / max_rounds)
            line = None
            if seq.due(t, len(d.blocks)):
                d.look = seq.look(d.blocks, t)
                line = _look_line(cfg, d.look, d.rounds, clock() - t0)
            on_progress(clock() - start, max_time, line)
            if (d.look is not None and d.look.decision) or t >= 1:
                break
        d.seconds = clock() - t0
        out.append(d)
    return out


def _look_line(cfg: LoaderConfig, look: Look, rounds: int, seconds: float) -> str:
    change = math.exp(look.mean) - 1
    low, high = math.exp(look.low) - 1, math.exp(look.high) - 1
    what = look.decision or ("undecided" if look.t < 1 else "out of time")
    return (
        f"{cfg.key()}: {look.n} process pairs, {rounds} rounds, {seconds:.0f} s: "
        f"{change:+.1%} ({low:+.1%} .. {high:+.1%}): {what}"
    )


ROUNDS_NEEDED = MIN_N * (BLOCK_PAIRS - 1)
"""The fewest counted rounds a configuration needs before the test can decide."""

__all__ = ["ROUNDS_NEEDED", "Duel", "LiveSide", "duel"]
