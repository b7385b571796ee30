"""The CI regression check as a library: which configurations, measure both sides, judge each one.

``dltune check`` and ``dltune baseline save`` are thin commands over these functions: parse, call,
render. Progress goes out through ``on_progress(done, total)``; nothing here prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime

from dltune.bench.abba import abba, base_side, repeat
from dltune.bench.space import expand, load_space
from dltune.errors import UsageError
from dltune.hardware.facts import software_versions
from dltune.model import (
    SWEEP,
    Baseline,
    BaselineEntry,
    HardwareFacts,
    LoaderConfig,
    MeasureSettings,
    Preflight,
)
from dltune.regress import CheckResult, judge

SAME_JOB_THRESHOLD = 0.05
STORED_THRESHOLD = 0.15  # a stored baseline was measured at another time, maybe on another runner

Progress = Callable[[int, int], None]


def _quiet(done: int, total: int) -> None:
    return None


def check_options(rounds: int | None, threshold: float | None, alpha: float) -> None:
    """Raise UsageError naming the flag when a statistics option is out of range (before measuring)."""
    if not (math.isfinite(alpha) and 0 < alpha < 1):
        raise UsageError(f"--alpha {alpha!r} is not a probability between 0 and 1", "use e.g. --alpha 0.05")
    if threshold is not None and not (math.isfinite(threshold) and 0 < threshold < 1):
        raise UsageError(
            f"--threshold {threshold!r} is not a share between 0 and 1",
            "use e.g. --threshold 0.05 (a 5% drop)",
        )
    if rounds is not None and rounds < 2:
        raise UsageError(
            f"--rounds {rounds} is too few to test anything", "use --rounds 2 or more (8 by default)"
        )


def ci_configs(config: str, hw: HardwareFacts) -> tuple[list[LoaderConfig], MeasureSettings]:
    """The configurations and settings a check measures (configs/ci.toml by default)."""
    space, settings = load_space(config)
    planned, _ = expand(space, hw, Preflight())
    return [p.config for p in planned if p.role == SWEEP], settings


def make_baseline(
    target: str, config: str, hw: HardwareFacts, rounds: int | None = None, on_progress: Progress = _quiet
) -> Baseline:
    """Measure the CI configurations ``rounds`` times each (separate trials, interleaved)."""
    check_options(rounds, None, 0.05)
    configs, settings = ci_configs(config, hw)
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
    configs = [entry.config for entry in baseline.configs]
    n = rounds or max(len(entry.samples) for entry in baseline.configs)
    current = repeat(target, configs, baseline.settings, n, on_progress)
    thr = threshold if threshold is not None else STORED_THRESHOLD
    verdicts = [
        judge(e.key, list(e.samples), current[e.key], threshold=thr, alpha=alpha, paired=False)
        for e in baseline.configs
    ]
    return CheckResult("baseline", target, thr, alpha, verdicts, notes, source)


def against_ref(
    target: str,
    ref: str,
    config: str,
    hw: HardwareFacts,
    *,
    rounds: int | None = None,
    threshold: float | None = None,
    alpha: float = 0.05,
    on_progress: Progress = _quiet,
) -> CheckResult:
    """Measure the dataset at git ``ref`` and in the working tree side by side (ABBA rounds, paired)."""
    check_options(rounds, threshold, alpha)
    configs, settings = ci_configs(config, hw)
    n = rounds or settings.repeats
    with base_side(target, ref) as base:
        a, b = abba(base.target, target, configs, settings, n, on_progress, base_paths=base.paths)
    notes = []
    if base.dependencies_changed:
        notes.append(
            f"dependencies changed between {ref} and the working tree ({', '.join(base.dependencies_changed)}): "
            "both sides use the installed environment"
        )
    thr = threshold if threshold is not None else SAME_JOB_THRESHOLD
    verdicts = [
        judge(c.key(), a[c.key()], b[c.key()], threshold=thr, alpha=alpha, paired=True) for c in configs
    ]
    return CheckResult("against", target, thr, alpha, verdicts, notes, ref)
