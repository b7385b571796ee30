"""The sweep: preflight the dataset, plan, run every trial, save after each one.

Progress goes out through an ``on_event`` callback (the CLI draws it); the runner never prints.
Ctrl-C keeps every finished trial on disk; ``resume`` continues a run where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dltune.bench.ceiling import ladder
from dltune.bench.child import WatchedProcess, run_child
from dltune.bench.climb import climb, edge_notes, fed_ceiling, measured_ceiling
from dltune.bench.confirm import close_to_best, race
from dltune.bench.events import Event
from dltune.bench.prior import single_loader_choice
from dltune.bench.ranks import run_node_trial
from dltune.bench.recorder import Recorder, TrialRunner
from dltune.bench.shard_memory import measure_sharding
from dltune.bench.space import Planned, expand
from dltune.bench.trial import PREFLIGHT_JOB, memory_budget, run_trial
from dltune.engine.dataset_file import fingerprint
from dltune.errors import BenchmarkError, DatasetFileError
from dltune.hardware.facts import software_versions
from dltune.model import (
    REFERENCE_CORES,
    REFERENCE_DEFAULTS,
    REFERENCE_SINGLE,
    CeilingRecord,
    HardwareFacts,
    LoaderConfig,
    MeasureSettings,
    Preflight,
    Pruned,
    RunResult,
    Search,
    SweepSpace,
)
from dltune.store import SchemaError, from_json, locked, new_run_dir, save_run

MAX_STEPS = 6
"""Worker counts a sweep may add past its edge (and between its points)."""


def preflight(target: str, settings: MeasureSettings, process: WatchedProcess | None = None) -> Preflight:
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
    try:
        facts: Preflight = from_json(Preflight, out.result)
    except SchemaError as exc:  # the preflight job and the model disagree: a dltune bug, said plainly
        raise BenchmarkError(f"the preflight reported facts dltune cannot read: {exc}") from None
    return facts


def plan(run: RunResult, hw: HardwareFacts, space: SweepSpace) -> tuple[list[Planned], list[Pruned]]:
    return expand(space, hw, run.preflight or Preflight(), run.settings.nproc_per_node)


def resume_inputs(run: RunResult) -> tuple[SweepSpace, MeasureSettings, HardwareFacts]:
    """The space, settings and hardware a saved run was planned with, to continue it as it was."""
    return run.space, run.settings, run.hardware


def new_run(
    target: str,
    space: SweepSpace,
    settings: MeasureSettings,
    hardware: HardwareFacts,
    pre: Preflight,
    name: str | None = None,
) -> RunResult:
    return RunResult(
        name=name or Path(target.partition(":")[0]).stem,
        target=target,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        hardware=hardware,
        versions=software_versions(),
        settings=settings,
        space=space,
        preflight=pre,
        fingerprint=fingerprint(target),
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
    """Preflight the dataset, create the run and its folder, and plan (saved before any trial runs).
    With ranks, the single-loader recommendation of an earlier run of the file joins the plan."""
    run = new_run(target, space, settings, hardware, preflight(target, settings, process), name)
    # one machine only: with several, each would find its own earlier runs and plan other trials than
    # the rest, whose ranks would then wait at a rendezvous that never comes
    one_machine = settings.ranked and settings.nnodes == 1
    single = single_loader_choice(out_root, target, run.fingerprint, space) if one_machine else None
    folder = new_run_dir(out_root, run.name)
    if single is not None:
        run = replace(run, single_loader=single.key())
    run, folder, planned, pruned = _planned(run, folder, hardware, space)
    if single is not None and all(p.config.key() != single.key() for p in planned):
        planned.append(Planned(single, REFERENCE_SINGLE))
    return run, folder, planned, pruned


def _planned(
    run: RunResult, folder: Path, hardware: HardwareFacts, space: SweepSpace
) -> tuple[RunResult, Path, list[Planned], list[Pruned]]:
    """Plan a run (new or resumed), record what was dropped and why, and save it."""
    planned, pruned = plan(run, hardware, space)
    run = replace(run, pruned=tuple(pruned), complete=False)
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
    confirm: bool = True,
) -> tuple[RunResult, Path]:
    """Measure every planned configuration (``settings.repeats`` times, interleaved), saving as it goes;
    then extend the worker axis when the best sits on its edge, and settle the close candidates side by
    side (``confirm``; see dltune.bench.confirm). With ranks (``settings.ranked``) every trial
    measures all of them at once (dltune.bench.ranks)."""
    if settings.ranked and trial_runner is run_trial:
        trial_runner = run_node_trial
    if resume is not None and resume_dir is not None:
        with locked(resume_dir):  # held from the first write: a second dltune resuming it is refused
            run, folder, planned, pruned = _planned(resume, resume_dir, hardware, space)
            return _sweep(
                target,
                run,
                folder,
                planned,
                pruned,
                space,
                settings,
                hardware,
                on_event,
                trial_runner,
                confirm,
            )
    run, folder, planned, pruned = preflight_and_plan(
        target, space, settings, hardware, out_root=out_root, name=name
    )
    with locked(folder):
        return _sweep(
            target, run, folder, planned, pruned, space, settings, hardware, on_event, trial_runner, confirm
        )


def _sweep(
    target: str,
    run: RunResult,
    folder: Path,
    planned: list[Planned],
    pruned: list[Pruned],
    space: SweepSpace,
    settings: MeasureSettings,
    hardware: HardwareFacts,
    on_event: Callable[[Event], None],
    trial_runner: TrialRunner,
    confirm: bool,
) -> tuple[RunResult, Path]:
    on_event(
        Event("planned", run, total=len(planned) * settings.repeats, pruned=tuple(pruned), folder=folder)
    )
    rec = Recorder(target, run, folder, trial_runner, on_event, hardware.memory.shm_free)
    done = {(t.key, t.repeat) for t in run.trials}
    jobs = [(r, p) for r in range(settings.repeats) for p in planned]
    with rec.stage("grid"):
        for i, (repeat, p) in enumerate(jobs):
            if (p.config.key(), repeat) not in done:
                rec.measure(p.config, settings, p.role, index=i, total=len(jobs))
    search = Search()
    best = _best_sweep(rec, planned)
    if best is not None and best.num_workers:
        with rec.stage("workers"):
            search = _extend(rec, space, planned, best, settings, hardware)
    if confirm:
        known = {p.config.key(): p.config for p in planned} | {
            t.key: t.config for t in rec.trials if t.role.startswith("search")
        }
        contenders = close_to_best(rec.trials, known)
        if len(contenders) > 1:
            with rec.stage("race"):
                search = replace(search, race=race(rec, contenders, settings, reserve=known))
    winner = _winner(rec, search)
    sharding = measure_sharding(rec, winner, settings) if winner is not None else None
    return rec.finish(search=replace(search, stages=tuple(rec.stages)), sharding=sharding)


def _winner(rec: Recorder, search: Search) -> LoaderConfig | None:
    """The race's winner, else the fastest configuration measured (references aside)."""
    ok = [t for t in rec.trials if t.ok and t.metrics and t.role not in (REFERENCE_DEFAULTS, REFERENCE_CORES)]
    if search.race is not None:
        return next((t.config for t in ok if t.key == search.race.winner), None)
    return max(ok, key=lambda t: t.metrics.samples_per_s if t.metrics else 0.0).config if ok else None


def _best_sweep(rec: Recorder, planned: list[Planned]) -> LoaderConfig | None:
    keys = {p.config.key(): p.config for p in planned if p.role == "sweep"}
    ok = [t for t in rec.trials if t.ok and t.metrics and t.key in keys]
    if not ok:
        return None
    return keys[max(ok, key=lambda t: t.metrics.samples_per_s if t.metrics else 0.0).key]


def _extend(
    rec: Recorder,
    space: SweepSpace,
    planned: list[Planned],
    best: LoaderConfig,
    settings: MeasureSettings,
    hardware: HardwareFacts,
) -> Search:
    """A best on the edge of the swept worker counts: climb past it (``workers = "auto"``), or say so; unless
    the dataset fed fewer workers than the best had (dltune.bench.fed): then more can only idle, and the fed
    count is the limit the report names."""
    same = {
        p.config.num_workers
        for p in planned
        if p.role == "sweep" and replace(p.config, num_workers=best.num_workers) == best
    }
    open_ended = isinstance(space.workers, str)
    fed = fed_ceiling(rec.trials, best.batch_size)
    if fed is not None and fed.workers < best.num_workers:  # workers past the fed count only idle
        return Search(ceiling=CeilingRecord(fed.workers, fed.limit))
    trial = next(t for t in rec.trials if t.key == best.key() and t.ok)
    ceiling = measured_ceiling(
        hardware,
        trial,
        settings,
        preflight=rec.run.preflight,
        batch_size=best.batch_size,
        prefetch=best.prefetch_factor or 2,
        max_workers=space.max_workers,
    )
    axis = sorted(same)
    up = [*axis, *ladder(max(axis), ceiling.workers)] if open_ended else axis

    def make(w: int) -> LoaderConfig | None:
        return replace(best, num_workers=w) if w > 0 and (open_ended or w in same) else None

    rates = climb(
        rec,
        make,
        [w for w in up if w > 0],
        settings,
        allowed=None if open_ended else axis,
        ceiling=ceiling.workers,
        steps=MAX_STEPS,
    )
    return Search(
        notes=tuple(edge_notes(rates, ceiling, open_ended)),
        ceiling=CeilingRecord(ceiling.workers, ceiling.limit),
    )
