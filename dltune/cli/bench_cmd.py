"""dltune bench DATASET: sweep DataLoader configurations and save every result."""

from __future__ import annotations

from pathlib import Path

import typer

from dltune.cli.app import app
from dltune.cli.console import err, out
from dltune.cli.measuring import do_bench
from dltune.cli.options import NNODES, NPROC_PER_NODE, RDZV_ENDPOINT, RDZV_ID
from dltune.report.tables import trials_panel
from dltune.store import DEFAULT_ROOT, run_json


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
    threads: str | None = typer.Option(
        None, "--threads", help="Intra-op threads per loading process to sweep, e.g. 1,2 (default: torch's)."
    ),
    nproc_per_node: str | None = NPROC_PER_NODE,
    nnodes: int | None = NNODES,
    rdzv_endpoint: str | None = RDZV_ENDPOINT,
    rdzv_id: str | None = RDZV_ID,
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
        threads=threads,
        nproc_per_node=nproc_per_node,
        nnodes=nnodes,
        rdzv_endpoint=rdzv_endpoint,
        rdzv_id=rdzv_id,
        out_dir=out_dir,
        name=name,
        resume=resume,
    )
    if as_json:
        print(run_json(run))
        return
    out.print(
        trials_panel(
            run.trials, f"{run.target}: {len(run.ok_trials())}/{len(run.trials)} trials measured", limit=12
        )
    )
    err.print(f"Saved to {folder}/run.json (and trials.csv). Next: dltune recommend --run {folder}")
