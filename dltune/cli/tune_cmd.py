"""dltune tune DATASET: the grid's best configuration in a fraction of the grid's time."""

from __future__ import annotations

from pathlib import Path

import typer

from dltune.cli.app import app
from dltune.cli.console import err, out
from dltune.cli.measuring import do_tune
from dltune.cli.options import NNODES, NPROC_PER_NODE, RDZV_ENDPOINT, RDZV_ID, byte_size
from dltune.model import Constraints
from dltune.recommend import recommend
from dltune.report import terminal
from dltune.report.files import write_reports
from dltune.store import DEFAULT_ROOT


@app.command()
def tune(
    dataset: str = typer.Argument(..., help="Dataset file (path/to/file.py[:attr]) or module:attr."),
    config: str = typer.Option(
        "default", "--config", "-c", help="The space to search: a name in configs/ or a TOML path."
    ),
    workers: str | None = typer.Option(None, "--workers", "-w", help="Worker counts, e.g. 0,2,4,8."),
    batch_size: str | None = typer.Option(None, "--batch-size", "-b", help="Batch sizes, e.g. 32,64."),
    prefetch: str | None = typer.Option(None, "--prefetch", help="prefetch_factor values, e.g. 2,4."),
    step_ms: float | None = typer.Option(None, "--step-ms", help="Simulated training step per batch, in ms."),
    max_workers: int | None = typer.Option(
        None, "--max-workers", help="Measure no configuration with more workers than this."
    ),
    max_memory: str | None = typer.Option(
        None, "--max-memory", help="Memory cap for one configuration's processes, e.g. 4G."
    ),
    nproc_per_node: str | None = NPROC_PER_NODE,
    nnodes: int | None = NNODES,
    rdzv_endpoint: str | None = RDZV_ENDPOINT,
    rdzv_id: str | None = RDZV_ID,
    out_dir: Path = typer.Option(DEFAULT_ROOT, "--out", help="Folder for run results."),
) -> None:
    """Calibrate, predict every configuration from measured stage costs, measure only the promising ones.

    With --nproc-per-node every trial measures all ranks' loaders at once, and the model plans each
    rank's loader on its share of the machine."""
    run, folder = do_tune(
        dataset,
        config,
        out_dir=out_dir,
        workers=workers,
        batch_size=batch_size,
        prefetch=prefetch,
        step_ms=step_ms,
        max_workers=max_workers,
        max_memory=max_memory,
        nproc_per_node=nproc_per_node,
        nnodes=nnodes,
        rdzv_endpoint=rdzv_endpoint,
        rdzv_id=rdzv_id,
    )
    rec = recommend(run, Constraints(byte_size(max_memory, "--max-memory"), max_workers))
    paths = write_reports(rec, folder)
    out.print(terminal.render(rec))
    err.print(f"Saved to {folder}; reports: {paths['markdown']}, {paths['html']}")
