"""What bench, tune and recommend DATASET share on the command line: the space from a config file and
flags, the live progress view, and running a sweep or a tuning session with it.

Command modules import this one, never each other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from dltune.bench.runner import Event, resume_inputs, run_bench
from dltune.bench.space import load_space, with_overrides
from dltune.bench.tune import run_tune
from dltune.cli.console import err
from dltune.cli.options import bool_list, byte_size, int_list
from dltune.cli.progress import SweepProgress
from dltune.errors import UsageError
from dltune.hardware.facts import probe
from dltune.model import MeasureSettings, RunResult, SweepSpace
from dltune.store import DEFAULT_ROOT, load_run


def resolve_space(
    config: str = "default",
    *,
    workers: str | None = None,
    batch_size: str | None = None,
    prefetch: str | None = None,
    pin_memory: str | None = None,
    persistent: str | None = None,
    start_method: str | None = None,
    step_ms: float | None = None,
    repeats: int | None = None,
    timeout: float | None = None,
    max_memory: str | None = None,
    max_workers: int | None = None,
) -> tuple[SweepSpace, MeasureSettings]:
    """The config file's space and settings, with the command-line flags on top."""
    space, settings = load_space(config)
    methods = tuple(None if m == "default" else m for m in start_method.split(",")) if start_method else None
    if pin_memory is not None and pin_memory not in ("auto", "on", "off", "both"):
        raise UsageError(f"--pin-memory {pin_memory!r} is not auto, on, off or both")
    space = with_overrides(
        space,
        workers=int_list(workers, "--workers"),
        batch_size=int_list(batch_size, "--batch-size"),
        prefetch_factor=int_list(prefetch, "--prefetch"),
        pin_memory=pin_memory,
        persistent_workers=bool_list(persistent, "--persistent"),
        start_method=methods,
        max_workers=max_workers,
    )
    changes: dict[str, Any] = {
        "step_ms": step_ms,
        "repeats": repeats,
        "timeout_s": timeout,
        "memory_limit": byte_size(max_memory, "--max-memory"),
    }
    return space, dataclasses.replace(settings, **{k: v for k, v in changes.items() if v is not None})


def live(
    dataset: str, work: Callable[[Callable[[Event], None]], tuple[RunResult, Path]]
) -> tuple[RunResult, Path]:
    """Run a sweep with the live progress view; Ctrl-C says where the finished trials are."""
    progress = SweepProgress(err, dataset)
    try:
        with progress:
            return work(progress.update)
    except KeyboardInterrupt:
        if progress.folder is not None:
            err.print(
                f"Interrupted: {progress.finished} finished trials are saved in {progress.folder}.\n"
                f"Continue with: dltune bench {dataset} --resume {progress.folder}"
            )
        raise typer.Exit(130) from None


def do_bench(
    dataset: str,
    config: str = "default",
    *,
    out_dir: Path = DEFAULT_ROOT,
    name: str | None = None,
    resume: Path | None = None,
    **overrides: Any,
) -> tuple[RunResult, Path]:
    """Resolve the space and settings (config file, then flags), probe, sweep with a live view."""
    if resume is not None:
        prior = load_run(resume)
        space, settings, hw = resume_inputs(prior)
        if prior.target != dataset:
            raise UsageError(
                f"{resume} is a run of {prior.target}, not {dataset}", "pass the same dataset file"
            )
    else:
        prior = None
        space, settings = resolve_space(config, **overrides)
        hw = probe()
    return live(
        dataset,
        lambda on_event: run_bench(
            dataset,
            space,
            settings,
            hw,
            out_root=out_dir,
            name=name,
            resume=prior,
            resume_dir=resume,
            on_event=on_event,
        ),
    )


def do_tune(
    dataset: str, config: str = "default", *, out_dir: Path = DEFAULT_ROOT, **overrides: Any
) -> tuple[RunResult, Path]:
    space, settings = resolve_space(config, **overrides)
    hw = probe()

    def work(on_event: Callable[[Event], None]) -> tuple[RunResult, Path]:
        return run_tune(dataset, space, settings, hw, out_root=out_dir, on_event=on_event)

    return live(dataset, work)
