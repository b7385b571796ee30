"""The timing window of one trial: first batch, warm-up, then steady state across epochs.

Pure of processes and files: the clock, the sleep and the CPU sampler are injected, so tests drive it
with fake loaders and a fake clock.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dltune.engine.transfer import batch_len, batch_nbytes
from dltune.interval import RunningWindow
from dltune.model.settings import MeasureSettings

Clock = Callable[[], float]

MIN_ROUNDS = 3
"""Even at its time cap a window holds this many rounds of ``num_workers`` batches: with slow batches
arriving in bursts, a window of one burst says nothing about the rate."""
HARD_CAP_FACTOR = 6
"""...but never runs past this many times ``max_seconds`` (the trial's own timeout stays the backstop)."""
SHORT_EPOCH = 4
"""An epoch of at most this many times the batches a window needs is short: the window spans whole epochs
(each starts with a bubble while the workers make its first batches). Longer ones are not waited for."""
PACED_CV = 1.0
"""Batches whose gaps over the last warm-up round vary less than this (coefficient of variation) arrive
paced, not in bursts: the loop, not the workers, sets the pace (their queues are full), so the window
needs no whole rounds. A burst of ``w`` batches has gaps of CV sqrt(w), 1.4 and up; evenly spaced ones
0."""


def paced(gaps: list[float]) -> bool:
    """Whether these batch-to-batch gaps show a steady stream rather than bursts (see ``PACED_CV``)."""
    if len(gaps) < 2 or sum(gaps) <= 0:
        return False
    mean = statistics.fmean(gaps)
    return statistics.stdev(gaps) / mean < PACED_CV


@dataclass
class Window:
    """What the loop saw. ``interval_s[i]``: from the end of batch i-1 to the end of batch i (wait + h2d + step)."""

    first_batch_s: float = 0.0
    warmup_batches: int = 0
    wait_s: list[float] = field(default_factory=list)
    interval_s: list[float] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    bytes: list[int] = field(default_factory=list)
    h2d_s: list[float] = field(default_factory=list)
    epochs: int = 1
    cpu: dict[str, float] = field(default_factory=dict)
    pss: tuple[int, int] = (0, 0)
    window_s: float = 0.0
    round_batches: int = 1
    """The cycle segments span: the worker count (a round of bursts), or a short epoch."""
    fed_workers: int | None = None
    """Workers that made at least one batch in the trial (dltune.bench.fed); None where not counted."""


def pss_of(proc: Any) -> int:
    """Proportional set size of a psutil.Process (USS where PSS is not reported); 0 once it is gone."""
    try:
        info = proc.memory_full_info()
        return int(getattr(info, "pss", 0) or info.uss)
    except Exception:
        return 0


class ProcessSampler:
    """CPU seconds and memory (PSS) of this process and of its worker processes."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()

    def snapshot(self) -> tuple[float, float, dict[int, float]]:
        t = self.proc.cpu_times()
        main = t.user + t.system
        reaped = t.children_user + t.children_system
        live: dict[int, float] = {}
        for child in self.proc.children():
            try:
                ct = child.cpu_times()
                live[child.pid] = ct.user + ct.system
            except Exception:  # exited between listing and reading
                pass
        return main, reaped, live

    def pss(self) -> tuple[int, int]:
        """(this process, its live workers together): proportional set size, shared pages split fairly."""

        return pss_of(self.proc), sum(pss_of(c) for c in self.proc.children(recursive=True))

    @staticmethod
    def between(
        a: tuple[float, float, dict[int, float]], b: tuple[float, float, dict[int, float]]
    ) -> tuple[float, float]:
        """(main CPU s, workers CPU s) spent between two snapshots."""
        main = b[0] - a[0]
        # reaped workers: their whole time moved into `reaped`; subtract what they had at the start
        workers = (b[1] - a[1]) + sum(b[2].values()) - sum(a[2].values())
        return main, max(0.0, workers)


class NoBatches(ValueError):
    """The loader ran dry: an empty dataset, or an epoch that yields nothing (the trial fails with this)."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason, self.hint = reason, hint


Counter = Callable[[Any, int], int]


def guess_count(batch: Any, k: int) -> int:
    return batch_len(batch)


def sample_counter(loader: Any, batch_size: int | None, drop_last: bool, iterable: bool) -> Counter:
    """How many samples the k-th batch of an epoch holds, from the sampler where it decides.

    With DataLoader's own batching over a map-style dataset, every batch holds ``batch_size`` indices
    of the sampler but the last of an epoch, which holds the rest: exact, whatever the batch looks
    like (a list-collated batch of 3-channel images is 8 samples, not 3). Otherwise (a batch sampler,
    an IterableDataset) the batch is read: a list of ``batch_size`` items is that many samples, else
    the leading dimension of its first tensor."""
    sampler = getattr(loader, "sampler", None)
    own_batching = batch_size and getattr(loader, "batch_size", None) == batch_size
    if not iterable and own_batching and sampler is not None and hasattr(sampler, "__len__"):
        full, rest = divmod(len(sampler), batch_size or 1)
        size = batch_size or 1

        def exact(batch: Any, k: int) -> int:
            return size if k <= full else (0 if drop_last else rest)

        return exact

    def read(batch: Any, k: int) -> int:
        if batch_size and isinstance(batch, list | tuple) and len(batch) == batch_size:
            return batch_size
        return batch_len(batch)

    return read


def epoch_length(loader: Any, iterable: bool) -> int | None:
    """Batches in one epoch of a map-style dataset's loader (its sampler's length); None where unknown (an
    IterableDataset's ``len`` is only an estimate, and a sampler may have none)."""
    if iterable:
        return None
    try:
        return len(loader) or None
    except (TypeError, NotImplementedError):
        return None


def ended(
    running: RunningWindow,
    settings: MeasureSettings,
    n: int,
    elapsed: float,
    *,
    need: int,
    rnd: int,
    round_batches: int,
    aligned: bool,
) -> bool:
    """Whether a window of ``n`` timed batches over ``elapsed`` s ends here (``rnd``: batches a round,
    ``round_batches``: the cycle its segments span, a round or a short epoch).

    It ends once it holds its minimums (``need`` batches, ``min_seconds``), on a cycle boundary, and is
    precise: its interval's relative half-width within ``settings.precision``. Past ``max_seconds`` the
    minimums shrink to ``MIN_ROUNDS`` rounds and the target loosens in proportion to the time spent
    (twice the cap: twice the half-width), so a noisy window goes on while more time still buys
    precision rather than ending imprecise at a fixed time; ``HARD_CAP_FACTOR`` times the cap (at most
    half the trial's ``timeout_s``) ends any window (on a boundary, or one cap later). A window whose
    interval lies wholly below ``settings.rank_against`` (the leader's rate) ends from ``MIN_ROUNDS`` rounds
    on: it is ranked. One wholly above it goes on to its precision: it is the new leader, and its rate the
    bar every later screen is ranked against (measured on the latency case: a first screen of 32 workers
    that stopped at three rounds, 1.4 s, clearly ahead of one worker, read 4,425 samples/s against 5,309 in
    the race; the climb, ranked against that, went on to 128 and 177 workers, 64 s of trials).
    Without a target (precision 0) the minimums end a window, and the cap ends it with what it has."""
    # never so late that the trial's own timeout (start-up included) would stop it first
    hard = min(HARD_CAP_FACTOR * settings.max_seconds, max(settings.max_seconds, settings.timeout_s / 2))
    if elapsed >= hard and (aligned or elapsed >= hard + settings.max_seconds):
        return True
    fewest = max(settings.segments, MIN_ROUNDS * rnd)
    half: float | None = None  # the interval's relative half-width, computed once
    if settings.rank_against > 0 and aligned and n >= fewest and elapsed >= settings.min_seconds:
        rate, half = running.rate(), running.rel_half_width(settings.segments, round_batches)
        if rate * (1 + half) < settings.rank_against:  # clearly behind the leader: more would not change that
            return True
    if elapsed >= settings.max_seconds:
        if n < fewest or not (aligned or elapsed >= 1.5 * settings.max_seconds):
            return False
    elif n < need or elapsed < settings.min_seconds or not aligned:
        return False
    if settings.precision <= 0:
        return True
    target = settings.precision * max(1.0, elapsed / settings.max_seconds)
    if half is None:
        half = running.rel_half_width(settings.segments, round_batches)
    return half <= target


def measure_loader(
    loader: Iterable[Any],
    settings: MeasureSettings,
    buffered: int,
    *,
    clock: Clock = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
    cpu: ProcessSampler | None = None,
    to_device: Callable[[Any], None] | None = None,
    cycle: int = 1,
    count: Counter | None = None,
    linger: Callable[[], bool] | None = None,
    epoch_batches: int | None = None,
) -> Window:
    """Iterate ``loader`` for as many epochs as needed and time the steady-state window.

    The first ``buffered`` batches after the first one (those workers filled during start-up) are
    not timed; then batches are timed until the window is long enough (see MeasureSettings).
    ``to_device(batch)`` copies a batch to the GPU and waits for it (timed as h2d).
    ``cycle`` (the worker count): batches arrive in bursts of that many (rounds), so the window
    starts and ends on a round boundary, holds at least ``segments`` rounds, and each segment of its
    interval spans whole rounds, unless the last warm-up round arrived paced (``paced``): then the
    workers are ahead of the loop and segments of single batches are honest. Past its minimums the window
    grows until it is precise enough to rank (``ended``: past ``max_seconds`` the target loosens with time).
    ``count(batch, k)``: the samples in the k-th batch (1-based) of its epoch (``sample_counter``).
    ``linger()``: called after the window until it returns True, loading on (untimed) meanwhile: ranks
    measured together keep their load on the machine until every rank's window has ended.
    ``epoch_batches``: the batches an epoch holds where the sampler says (``epoch_length``), so that a window
    ending before the first epoch does is already held to whole short epochs; the first epoch's end says
    for sure.
    """
    count = count or guess_count
    rnd = max(1, cycle)
    need = max(settings.min_batches, settings.segments * rnd)
    running = RunningWindow()
    # Whole epochs: when an epoch is short, each one starts with a bubble (workers idle until the new
    # epoch's first batches are made); a window must span whole epochs, or it reads high or low by
    # where it happens to start and stop (measured: 12 batches of the 7-batch detection epoch read 45% high).
    epoch_len = epoch_batches or None
    epoch_seen = False
    in_epoch = phase0 = 0
    w = Window(round_batches=rnd)
    warmup = settings.warmup_batches if settings.warmup_batches is not None else buffered
    w.warmup_batches = warmup
    step = settings.step_ms / 1000
    start = clock()
    it = iter(loader)
    seen = 0
    gaps: list[float] = []  # warm-up batch-to-batch gaps: bursts, or a paced stream?
    timing = False
    window_start = 0.0
    last = start
    snap0 = None
    while True:
        try:
            batch = next(it)
        except StopIteration:
            if seen == 0:
                raise NoBatches(
                    "the loader yielded no batch: the dataset (or the sampler) is empty",
                    "check the data path the dataset reads from, and the sampler's length",
                ) from None
            if in_epoch == 0:  # an iterator that is used up after one pass would spin here forever
                raise NoBatches(
                    f"epoch {w.epochs + 1} yielded no batch after {seen} batches in earlier epochs: the "
                    "dataset can be iterated only once",
                    "make __iter__ start a new pass each time it is called (a generator function, not a "
                    "stored iterator or generator)",
                ) from None
            w.epochs += 1
            if not epoch_seen:
                epoch_len, epoch_seen = in_epoch, True
            in_epoch = 0
            it = iter(loader)
            continue
        in_epoch += 1
        t1 = clock()
        if seen == 0:
            w.first_batch_s = t1 - start
        h2d = 0.0
        if to_device is not None:
            to_device(batch)
            h2d = clock() - t1
        if step:
            sleep(step)
        t2 = clock()
        if timing:
            w.wait_s.append(t1 - last)  # includes an epoch restart (worker start-up) when one happened
            w.interval_s.append(t2 - last)
            w.samples.append(count(batch, in_epoch))
            w.bytes.append(batch_nbytes(batch))
            if to_device is not None:
                w.h2d_s.append(h2d)
            running.add(w.samples[-1], w.interval_s[-1])
            elapsed = t2 - window_start
            n = len(w.samples)
            if epoch_len is not None and epoch_len <= SHORT_EPOCH * need:  # short: end where the window began
                aligned = in_epoch % epoch_len == phase0 % epoch_len
                w.round_batches = epoch_len  # and the epoch (with its restart bubble) is the cycle
            else:  # end on a round boundary: a window that cuts a burst reads high or low
                aligned = n % rnd == 0
            if ended(
                running,
                settings,
                n,
                elapsed,
                need=need,
                rnd=rnd,
                round_batches=w.round_batches,
                aligned=aligned,
            ):
                w.window_s = elapsed
                break
        seen += 1
        if not timing and seen > 1:
            gaps.append(t2 - last)
        # the window starts once the buffered batches are consumed, on a round boundary
        if not timing and seen > warmup and (rnd == 1 or seen % rnd == 0):
            if rnd > 1 and paced(gaps[-rnd:]):
                rnd = w.round_batches = 1
                need = max(settings.min_batches, settings.segments)
            timing = True
            window_start = t2
            phase0 = in_epoch
            if cpu is not None:
                snap0 = cpu.snapshot()
        last = t2
    if cpu is not None and snap0 is not None:
        main, workers = ProcessSampler.between(snap0, cpu.snapshot())
        w.cpu = {"main_pct": 100 * main / w.window_s, "workers_pct": 100 * workers / w.window_s}
        w.pss = cpu.pss()  # while the workers are still alive
    while linger is not None and not linger():
        try:
            next(it)
        except StopIteration:
            it = iter(loader)
    del it
    return w
