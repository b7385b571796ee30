"""dltune bench DATASET: sweep DataLoader configurations and save every result."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from dltune.bench.runner import Event, resume_inputs, run_bench
from dltune.bench.settings import MeasureSettings
from dltune.bench.space import SweepSpace, load_space, with_overrides
from dltune.cli.app import app
from dltune.cli.console import err, out
from dltune.cli.options import bool_list, byte_size, int_list
from dltune.cli.progress import SweepProgress
from dltune.errors import UsageError
from dltune.hardware.facts import probe
from dltune.model import RunResult
from dltune.report.tables import trials_table
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


@app.command()
def bench(
    dataset: str = typer.Argument(..., help="Dataset file (path/to/file.py[:attr]) or module:attr."),
    config: str = typer.Option(
        "default", "--config", "-c", help="Sweep config: a name in configs/ or a TOML path."
    ),
    workers: str | None = typer.Option(None, "--workers", "-w", help="Worker counts, e.g. 0,2,4,8."),
    batch_size: str | None = typer.Option(None, "--batch-size", "-b", help="Batch sizes, e.g. 32,64."),
    prefetch: str | None = typer.Option(None, "--prefetch", help="prefetch_factor values, e.g. 2,4."),
    pin_memory: str | None = typer.Option(None, "--pin-memory", help="auto | on | off | both."),
    persistent: str | None = typer.Option(
        None, "--persistent", help="persistent_workers values, e.g. false,true."
    ),
    start_method: str | None = typer.Option(
        None, "--start-method", help="fork, forkserver, spawn (comma list)."
    ),
    step_ms: float | None = typer.Option(None, "--step-ms", help="Simulated training step per batch, in ms."),
    repeats: int | None = typer.Option(None, "--repeats", help="Trials per configuration."),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds before a trial counts as hung."),
    max_memory: str | None = typer.Option(None, "--max-memory", help="Memory cap for one trial, e.g. 8G."),
    max_workers: int | None = typer.Option(
        None, "--max-workers", help="Measure no configuration with more workers than this."
    ),
    out_dir: Path = typer.Option(DEFAULT_ROOT, "--out", help="Folder for run results."),
    name: str | None = typer.Option(None, "--name", help="Run name (default: the dataset file's name)."),
    resume: Path | None = typer.Option(None, "--resume", help="Continue an interrupted run folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON on stdout."),
) -> None:
    """Sweep num_workers, batch_size, prefetch_factor, pin_memory... against this machine; save every trial."""
    run, folder = do_bench(
        dataset,
        config,
        workers=workers,
        batch_size=batch_size,
        prefetch=prefetch,
        pin_memory=pin_memory,
        persistent=persistent,
        start_method=start_method,
        step_ms=step_ms,
        repeats=repeats,
        timeout=timeout,
        max_memory=max_memory,
        max_workers=max_workers,
        out_dir=out_dir,
        name=name,
        resume=resume,
    )
    if as_json:
        print(json.dumps(run.to_dict(), default=str))
        return
    out.print(
        trials_table(
            run.trials, f"{run.target}: {len(run.ok_trials())}/{len(run.trials)} trials measured", limit=12
        )
    )
    err.print(f"Saved to {folder}/run.json (and trials.csv). Next: dltune recommend --run {folder}")
