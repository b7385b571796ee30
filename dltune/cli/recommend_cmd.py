"""dltune recommend: the configuration to use, why, and the code to apply it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from dltune.cli.app import app
from dltune.cli.console import err, out
from dltune.cli.measuring import do_bench, do_tune
from dltune.cli.options import byte_size
from dltune.errors import UsageError
from dltune.model import Constraints
from dltune.recommend import recommend
from dltune.report import markdown, terminal
from dltune.report.files import recommendation_json, write_reports
from dltune.store import DEFAULT_ROOT, latest_run, load_run


@app.command("recommend")
def recommend_cmd(
    dataset: str | None = typer.Argument(None, help="Optional dataset file: bench it first, then recommend."),
    run: Path | None = typer.Option(
        None, "--run", help="Run folder (default: the latest under .dltune/runs)."
    ),
    max_memory: str | None = typer.Option(
        None, "--max-memory", help="Only configurations using at most this, e.g. 4G."
    ),
    max_workers: int | None = typer.Option(
        None, "--max-workers", help="Only configurations with at most this many workers."
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", help="The batch size your model needs."),
    config: str = typer.Option("default", "--config", "-c", help="Sweep config when benching DATASET first."),
    out_dir: Path = typer.Option(DEFAULT_ROOT, "--out", help="Folder for run results."),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON object; its 'loader' key holds the DataLoader kwargs."
    ),
    as_markdown: bool = typer.Option(
        False, "--markdown", help="Print the Markdown report (for a PR comment)."
    ),
    grid: bool = typer.Option(
        False, "--grid", help="With DATASET: measure the whole grid instead of tuning."
    ),
    nproc_per_node: str | None = typer.Option(
        None,
        "--nproc-per-node",
        help="With DATASET: ranks per machine measured together (torchrun's); or auto.",
    ),
) -> None:
    """The DataLoader configuration to use and why, from a run (or tune DATASET first); writes .md/.html/.json."""
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"--batch-size {batch_size} is not a positive integer", "e.g. --batch-size 64")
    if max_workers is not None and max_workers < 0:
        raise UsageError(f"--max-workers {max_workers} is negative", "use 0 (main process only) or more")
    constraints = Constraints(byte_size(max_memory, "--max-memory"), max_workers, batch_size)
    if nproc_per_node is not None and dataset is None:
        raise UsageError(
            "--nproc-per-node measures ranks, and needs the DATASET to measure",
            "dltune recommend my_dataset.py --nproc-per-node 2 (or read a run bench measured with ranks: --run)",
        )
    if dataset is not None:
        # what the user fixed shapes what is measured, not only what is chosen
        limits: dict[str, Any] = {
            "batch_size": str(batch_size) if batch_size is not None else None,
            "max_workers": max_workers,
            "max_memory": max_memory,
        }
        if nproc_per_node is not None:  # every rank's loader measured at once
            limits["nproc_per_node"] = nproc_per_node
        measure = do_bench if grid else do_tune
        _, folder = measure(dataset, config, out_dir=out_dir, **limits)
    else:
        folder = run if run is not None else latest_run(out_dir)
    result = load_run(folder)
    rec = recommend(result, constraints)
    paths = write_reports(rec, folder if folder.is_dir() else folder.parent)
    if as_json:
        print(recommendation_json(rec))
    elif as_markdown:
        print(markdown.render(rec))
    else:
        out.print(terminal.render(rec))
    err.print(f"Reports: {paths['markdown']}, {paths['html']}, {paths['json']}")
