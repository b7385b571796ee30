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
from dltune.cli.options import bool_list, byte_size, int_list, ranks_per_node
from dltune.cli.progress import SweepProgress
from dltune.engine.dataset_file import fingerprint, same_target
from dltune.errors import ConfigError, Terminated, UsageError
from dltune.hardware.facts import probe
from dltune.model import MeasureSettings, RunResult, SweepSpace
from dltune.store import DEFAULT_ROOT, RUN_FILE, load_run, runnable


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
    threads: str | None = None,
    nproc_per_node: str | None = None,
    nnodes: int | None = None,
    rdzv_endpoint: str | None = None,
    rdzv_id: str | None = None,
) -> tuple[SweepSpace, MeasureSettings]:
    """The config file's space and settings, with the command-line flags on top."""
    space, settings = load_space(config)
    if nnodes is not None and nnodes > 1 and not rdzv_endpoint:
        raise UsageError(
            f"--nnodes {nnodes} needs --rdzv-endpoint: the host:port where the machines meet",
            "run the same command on every machine with --rdzv-endpoint HOST:PORT (HOST: one of them)",
        )
    methods = start_methods(start_method)
    if pin_memory is not None and pin_memory not in ("auto", "on", "off", "both"):
        raise UsageError(
            f"--pin-memory {pin_memory!r} is not auto, on, off or both", "e.g. --pin-memory both"
        )
    if max_workers is not None and max_workers < 0:
        raise UsageError(f"--max-workers {max_workers} is negative", "use 0 (main process only) or more")
    space = with_overrides(
        space,
        workers=int_list(workers, "--workers"),
        batch_size=int_list(batch_size, "--batch-size", lowest=1),
        prefetch_factor=int_list(prefetch, "--prefetch", lowest=1),
        pin_memory=pin_memory,
        persistent_workers=bool_list(persistent, "--persistent"),
        start_method=methods,
        max_workers=max_workers,
        threads=int_list(threads, "--threads", lowest=1),
    )
    changes: dict[str, Any] = {
        "nproc_per_node": ranks_per_node(nproc_per_node, lambda: len(probe().gpus)),
        "nnodes": nnodes,
        "rdzv_endpoint": rdzv_endpoint,
        "rdzv_id": rdzv_id,
        "step_ms": step_ms,
        "repeats": repeats,
        "timeout_s": timeout,
        "memory_limit": byte_size(max_memory, "--max-memory"),
    }
    settings = dataclasses.replace(settings, **{k: v for k, v in changes.items() if v is not None})
    try:
        return space, settings.checked()
    except ConfigError as exc:  # name the flag the value came from
        flag = FLAGS.get(exc.field.removeprefix("measure."))
        if flag is None or changes.get(exc.field.removeprefix("measure.")) is None:
            raise
        raise UsageError(
            f"{flag} {exc.message.partition(': ')[2]}", f"see dltune --help for {flag}"
        ) from None


FLAGS = {
    "nnodes": "--nnodes",
    "rdzv_endpoint": "--rdzv-endpoint",
    "step_ms": "--step-ms",
    "repeats": "--repeats",
    "timeout_s": "--timeout",
    "memory_limit": "--max-memory",
}
START_METHODS = ("fork", "forkserver", "spawn")


def start_methods(text: str | None) -> tuple[str | None, ...] | None:
    """``--start-method fork,spawn`` -> ('fork', 'spawn'); 'default' is the platform's own."""
    if text is None:
        return None
    names = [m.strip() for m in text.split(",") if m.strip()]
    for m in names:
        if m not in (*START_METHODS, "default"):
            raise UsageError(
                f"--start-method {m!r} is not a start method",
                f"use {', '.join(START_METHODS)} or default (comma-separated)",
            )
    if not names:
        raise UsageError("--start-method is empty", "e.g. --start-method fork,spawn")
    return tuple(None if m == "default" else m for m in names)


def live(
    dataset: str, work: Callable[[Callable[[Event], None]], tuple[RunResult, Path]]
) -> tuple[RunResult, Path]:
    """Run a sweep with the live progress view; Ctrl-C says where the finished trials are."""
    progress = SweepProgress(err, dataset)
    try:
        with progress:
            return work(progress.update)
    except (KeyboardInterrupt, Terminated) as exc:
        if progress.folder is not None:
            err.print(
                f"Interrupted: {progress.finished} finished trials are saved in {progress.folder}.\n"
                f"Continue with: dltune bench {dataset} --resume {progress.folder}",
                markup=False,
            )
        if isinstance(exc, Terminated):
            raise
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
        if resume.is_file() and resume.name == RUN_FILE:  # the run.json rather than its folder
            resume = resume.parent
        prior = runnable(load_run(resume), str(resume))
        space, settings, hw = resume_inputs(prior)
        if not same_target(prior.target, dataset):
            raise UsageError(
                f"{resume} is a run of {prior.target}, not {dataset}", "pass the same dataset file"
            )
        ignored = (
            [flag for flag, value in overrides.items() if value is not None]
            + (["--config"] if config != "default" else [])
            + (["--name"] if name is not None else [])
        )
        if ignored:
            err.print(
                "Note: --resume continues the run as it was planned; ignored: "
                + ", ".join(sorted(f if f.startswith("--") else "--" + f.replace("_", "-") for f in ignored)),
                markup=False,
            )
        now = fingerprint(dataset)
        if prior.fingerprint and now != prior.fingerprint:
            raise UsageError(
                f"{dataset} changed since the run in {resume} started: resuming would mix measurements "
                "of two versions of the pipeline",
                "start a new run (drop --resume), or restore the file as it was",
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
