"""The CI regression check as a library: which configurations, measure both sides, judge each one.

``dltune check`` and ``dltune baseline save`` are thin commands over these functions: parse, call,
render. Progress goes out through ``on_progress``: (trials done, trials in all) when measuring trials,
(seconds spent, time budget, a line to log or None) side by side; nothing here prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from dltune.bench.live_node import LiveNode
from dltune.bench.paired import ROUNDS_NEEDED, LiveSide, duel
from dltune.bench.paired import Progress as DuelProgress
from dltune.bench.ranks import run_node_trial
from dltune.bench.space import expand, load_space
from dltune.bench.trial import run_trial
from dltune.bench.worktree import base_side
from dltune.errors import BenchmarkError, UsageError
from dltune.hardware.facts import software_versions
from dltune.model import (
    SWEEP,
    Baseline,
    BaselineEntry,
    HardwareFacts,
    LoaderConfig,
    MeasureSettings,
    Preflight,
    TrialResult,
)
from dltune.regress import CheckResult, judge, sequential_verdict
from dltune.sequential import SequentialTest

SAME_JOB_THRESHOLD = 0.05
STORED_THRESHOLD = 0.15  # a stored baseline was measured at another time, maybe on another runner
MAX_TIME_S = 240.0
"""The side-by-side check's default time budget for measuring (all configurations together)."""
MAX_TIME_RANKED_S = 480.0
"""The same with ranks: a block of 2-rank nodes costs about 15 s on the 2-core VM, one of single
loaders about 6 s, and the nodes' windows are noisier (more processes on the same cores)."""

Progress = Callable[[int, int], None]


def _quiet(done: int, total: int) -> None:
    return None


def _no_progress(spent: float, budget: float, line: str | None) -> None:
    return None


def _rate(t: TrialResult) -> float:
    if not t.ok or t.metrics is None:
        raise BenchmarkError(f"the measurement failed on {t.key}: {t.status}: {t.reason}", t.hint)
    return t.metrics.samples_per_s


def repeat(
    target: str,
    configs: Sequence[LoaderConfig],
    settings: MeasureSettings,
    rounds: int,
    on_trial: Progress = _quiet,
    trial_runner: Callable[..., TrialResult] | None = None,
) -> dict[str, list[float]]:
    """Throughputs of one target per configuration, configurations interleaved round by round. With
    ranks (``settings.ranked``) each measurement is the node's: every rank's loader at once."""
    if trial_runner is None:
        trial_runner = run_node_trial if settings.ranked else run_trial
    out: dict[str, list[float]] = {c.key(): [] for c in configs}
    total, done = rounds * len(configs), 0
    for r in range(rounds):
        for cfg in configs:
            out[cfg.key()].append(_rate(trial_runner(target, cfg, settings, repeat=r)))
            done += 1
            on_trial(done, total)
    return out


def check_options(
    rounds: int | None,
    threshold: float | None,
    alpha: float,
    max_time: float | None = None,
    *,
    paired: bool = False,
) -> None:
    """Raise UsageError naming the flag when a statistics option is out of range (before measuring)."""
    if not (math.isfinite(alpha) and 0 < alpha < 1):
        raise UsageError(f"--alpha {alpha!r} is not a probability between 0 and 1", "use e.g. --alpha 0.05")
    if threshold is not None and not (math.isfinite(threshold) and 0 < threshold < 1):
        raise UsageError(
            f"--threshold {threshold!r} is not a share between 0 and 1",
            "use e.g. --threshold 0.05 (a 5% drop)",
        )
    least = ROUNDS_NEEDED if paired else 2
    if rounds is not None and rounds < least:
        raise UsageError(
            f"--rounds {rounds} is too few to test anything", f"use --rounds {least} or more, or leave it out"
        )
    if max_time is not None and not (math.isfinite(max_time) and max_time > 0):
        raise UsageError(f"--max-time {max_time!r} is not a number of seconds > 0", "use e.g. --max-time 300")


def ci_configs(
    config: str, hw: HardwareFacts, nproc_per_node: int = 1
) -> tuple[list[LoaderConfig], MeasureSettings]:
    """The configurations and settings a check measures (configs/ci.toml by default)."""
    space, settings = load_space(config)
    settings = replace(settings, nproc_per_node=nproc_per_node)
    planned, _ = expand(space, hw, Preflight(), nproc_per_node)
    return [p.config for p in planned if p.role == SWEEP], settings


def make_baseline(
    target: str,
    config: str,
    hw: HardwareFacts,
    rounds: int | None = None,
    on_progress: Progress = _quiet,
    nproc_per_node: int = 1,
) -> Baseline:
    """Measure the CI configurations ``rounds`` times each (separate trials, interleaved); with
    ``nproc_per_node`` ranks, each measurement is the node's (``check --baseline`` then measures the
    same way: the settings are stored with the figures)."""
    check_options(rounds, None, 0.05)
    configs, settings = ci_configs(config, hw, nproc_per_node)
    samples = repeat(target, configs, settings, rounds or settings.repeats, on_progress)
    return Baseline(
        target=target,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        hardware=hw,
        versions=software_versions(),
        settings=settings,
        configs=tuple(BaselineEntry(c.key(), c, tuple(samples[c.key()])) for c in configs),
    )


def against_baseline(
    target: str,
    baseline: Baseline,
    hw: HardwareFacts,
    *,
    source: str = "",
    rounds: int | None = None,
    threshold: float | None = None,
    alpha: float = 0.05,
    strict: bool = False,
    on_progress: Progress = _quiet,
) -> CheckResult:
    """Measure the working tree now and compare with stored figures (unpaired: other time, maybe other runner)."""
    check_options(rounds, threshold, alpha)
    notes = baseline.mismatches(hw)
    if notes and strict:
        raise UsageError(
            f"the baseline was measured elsewhere: {'; '.join(notes)}",
            "save a new baseline on this runner, or drop --strict",
        )
    if baseline.settings.ranked:
        notes.append(_ranked_note(baseline.settings) + ", as the baseline was")
    configs = [entry.config for entry in baseline.configs]
    n = rounds or max(len(entry.samples) for entry in baseline.configs)
    current = repeat(target, configs, baseline.settings, n, on_progress)
    thr = threshold if threshold is not None else STORED_THRESHOLD
    verdicts = [
        judge(e.key, list(e.samples), current[e.key], threshold=thr, alpha=alpha, paired=False)
        for e in baseline.configs
    ]
    return CheckResult("baseline", target, thr, alpha, verdicts, notes, source)


def _ranked_note(settings: MeasureSettings) -> str:
    return (
        f"measured with {settings.nproc_per_node} ranks at once, each figure the node's "
        "(ranks x the slowest rank)"
    )


def against_ref(
    target: str,
    ref: str,
    config: str,
    hw: HardwareFacts,
    *,
    rounds: int | None = None,
    threshold: float | None = None,
    alpha: float = 0.05,
    max_time: float | None = None,
    on_progress: DuelProgress | None = None,
    nproc_per_node: int = 1,
) -> CheckResult:
    """Measure the dataset at git ``ref`` and in the working tree side by side, live loaders in
    alternating windows (dltune.bench.paired), until the sequential test decides each configuration
    or ``max_time`` runs out (``rounds``: at most that many rounds a configuration).

    The error budget ``alpha`` is split evenly over the configurations (Bonferroni), so the chance of
    any false alarm in the whole check stays at most ``alpha``. With ``nproc_per_node`` > 1 each side
    is a node of that many ranks, every rank's loader alive and measured at once (dltune.bench.live_node)."""
    check_options(rounds, threshold, alpha, max_time, paired=True)
    configs, settings = ci_configs(config, hw, nproc_per_node)
    thr = threshold if threshold is not None else SAME_JOB_THRESHOLD
    level = alpha / max(1, len(configs))
    with base_side(target, ref) as base:
        duels = duel(
            base.target,
            target,
            configs,
            settings,
            test=lambda: SequentialTest(level, thr),
            max_time=max_time or (MAX_TIME_RANKED_S if settings.ranked else MAX_TIME_S),
            max_rounds=rounds,
            base_paths=base.paths,
            on_progress=on_progress or _no_progress,
            side=LiveNode if settings.ranked else LiveSide,
        )
    notes = [_ranked_note(settings)] if settings.ranked else []
    if base.dependencies_changed:
        notes.append(
            f"dependencies changed between {ref} and the working tree ({', '.join(base.dependencies_changed)}): "
            "both sides use the installed environment"
        )
    verdicts = [
        sequential_verdict(
            d.config.key(), d.base, d.candidate, d.look, threshold=thr, rounds=d.rounds, seconds=d.seconds
        )
        for d in duels
    ]
    return CheckResult("against", target, thr, alpha, verdicts, notes, ref)
