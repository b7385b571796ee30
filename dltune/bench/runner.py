"""The sweep: preflight the dataset, plan, run every trial, save after each one.

Progress goes out through an ``on_event`` callback (the CLI draws it); the runner never prints.
Ctrl-C keeps every finished trial on disk; ``resume`` continues a run where it stopped.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dltune import __version__
from dltune.bench.child import WatchedProcess, run_child
from dltune.bench.settings import MeasureSettings
from dltune.bench.space import DatasetFacts, Planned, Pruned, SweepSpace, expand, shm_needed
from dltune.bench.trial import PREFLIGHT_JOB, memory_budget, run_trial
from dltune.engine.config import LoaderConfig
from dltune.errors import BenchmarkError, DatasetFileError
from dltune.hardware.facts import HardwareFacts
from dltune.model import RunResult, TrialResult
from dltune.store import new_run_dir, save_run


@dataclass(frozen=True)
class Event:
    kind: str  # "planned", "trial_start", "trial_done", "saved", "done"
    run: RunResult
    index: int = 0
    total: int = 0
    trial: TrialResult | None = None
    planned: Planned | None = None
    pruned: tuple[Pruned, ...] = field(default_factory=tuple)
    folder: Path | None = None


TrialRunner = Callable[..., TrialResult]


def preflight(
    target: str, settings: MeasureSettings, process: WatchedProcess | None = None
) -> dict[str, Any]:
    """Import the dataset and time a few samples in a watched child; a broken dataset stops here."""
    limit, reserve = memory_budget(settings)
    watch: dict[str, Any] = {"timeout_s": settings.timeout_s, "memory_limit": limit, "reserve": reserve}
    payload = {"target": target}
    out = (
        process.run(PREFLIGHT_JOB, payload, **watch)
        if process
        else run_child(PREFLIGHT_JOB, payload, **watch)
    )
    if out.result is None:
        raise BenchmarkError(
            f"loading {target} did not finish (exit code {out.exitcode}, {out.watchdog or 'crashed'})",
            "run `dltune inspect` on the file to see it fail in the foreground",
        )
    if "error" in out.result:
        raise DatasetFileError(out.result["error"], out.result.get("hint"))
    if "failure" in out.result:
        raise BenchmarkError(out.result["failure"]["reason"], out.result["failure"].get("hint"))
    return out.result


def dataset_facts(pre: dict[str, Any]) -> DatasetFacts:
    return DatasetFacts(
        iterable=bool(pre.get("iterable")),
        from_file=tuple(pre.get("from_file", ())),
        bytes_per_sample=pre.get("bytes_per_sample"),
    )


def plan(run: RunResult, hw: HardwareFacts, space: SweepSpace) -> tuple[list[Planned], list[Pruned]]:
    return expand(space, hw, dataset_facts(run.preflight or {}))


def resume_inputs(run: RunResult) -> tuple[SweepSpace, MeasureSettings, HardwareFacts]:
    """The space, settings and hardware a saved run was planned with, to continue it as it was."""
    return (
        SweepSpace.from_saved(run.space),
        MeasureSettings.from_dict(run.settings),
        HardwareFacts.from_dict(run.hardware),
    )


def new_run(
    target: str,
    space: SweepSpace,
    settings: MeasureSettings,
    hardware: HardwareFacts,
    pre: dict[str, Any],
    name: str | None = None,
) -> RunResult:
    import torch

    return RunResult(
        name=name or Path(target.partition(":")[0]).stem,
        target=target,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        hardware=hardware.to_dict(),
        versions={
            "dltune": __version__,
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "platform": platform.platform(),
        },
        settings=settings.to_dict(),
        space=space.to_dict(),
        preflight=pre,
    )


def preflight_and_plan(
    target: str,
    space: SweepSpace,
    settings: MeasureSettings,
    hardware: HardwareFacts,
    *,
    out_root: Path,
    name: str | None = None,
    process: WatchedProcess | None = None,
) -> tuple[RunResult, Path, list[Planned], list[Pruned]]:
    """Preflight the dataset, create the run and its folder, and plan (saved before any trial runs)."""
    run = new_run(target, space, settings, hardware, preflight(target, settings, process), name)
    folder = new_run_dir(out_root, run.name)
    return _planned(run, folder, hardware, space)


def _planned(
    run: RunResult, folder: Path, hardware: HardwareFacts, space: SweepSpace
) -> tuple[RunResult, Path, list[Planned], list[Pruned]]:
    """Plan a run (new or resumed), record what was dropped and why, and save it."""
    planned, pruned = plan(run, hardware, space)
    run = replace(run, pruned=[{"key": p.key, "reason": p.reason} for p in pruned], complete=False)
    save_run(run, folder)
    return run, folder, planned, pruned


def run_bench(
    target: str,
    space: SweepSpace,
    settings: MeasureSettings,
    hardware: HardwareFacts,
    *,
    out_root: Path,
    name: str | None = None,
    resume: RunResult | None = None,
    resume_dir: Path | None = None,
    on_event: Callable[[Event], None] = lambda e: None,
    trial_runner: TrialRunner = run_trial,
) -> tuple[RunResult, Path]:
    """Measure every planned configuration (``settings.repeats`` times, interleaved) and save as it goes."""
    if resume is not None and resume_dir is not None:
        run, folder, planned, pruned = _planned(resume, resume_dir, hardware, space)
    else:
        run, folder, planned, pruned = preflight_and_plan(
            target, space, settings, hardware, out_root=out_root, name=name
        )
    on_event(
        Event("planned", run, total=len(planned) * settings.repeats, pruned=tuple(pruned), folder=folder)
    )
    done = {(t.key, t.repeat) for t in run.trials}
    jobs = [(r, p) for r in range(settings.repeats) for p in planned]
    bpp = (run.preflight or {}).get("bytes_per_sample")
    shm_free = hardware.memory.shm_free
    for i, (repeat, p) in enumerate(jobs):
        if (p.config.key(), repeat) in done:
            continue
        on_event(Event("trial_start", run, index=i, total=len(jobs), planned=p))
        result = trial_runner(
            target,
            p.config,
            settings,
            role=p.role,
            repeat=repeat,
            shm_needed=shm_needed(p.config, bpp) if bpp and p.config.num_workers else None,
            shm_free=shm_free,
        )
        run = replace(run, trials=(*run.trials, result))
        save_run(run, folder)  # after every trial: Ctrl-C or a crash loses at most the trial in flight
        on_event(Event("trial_done", run, index=i, total=len(jobs), trial=result, planned=p, folder=folder))
    run = replace(run, complete=True)
    save_run(run, folder)
    on_event(Event("done", run, total=len(jobs), folder=folder))
    return run, folder


def config_of(trial: TrialResult) -> LoaderConfig:
    return LoaderConfig.from_dict(trial.config)
