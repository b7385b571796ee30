"""dltune inspect DATASET: what the dataset file provides, and the DataLoader it builds."""

from __future__ import annotations

from pathlib import Path

import typer

from dltune.cli.app import app
from dltune.cli.console import out
from dltune.engine import LoaderConfig, build_loader, load_dataset
from dltune.engine.describe import describe_batch


@app.command()
def inspect(
    dataset: str = typer.Argument(..., help="Dataset file (path/to/file.py[:attr]) or module:attr."),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML file with a [loader] table."),
    batch_size: int = typer.Option(8, "--batch-size", "-b"),
    workers: int = typer.Option(0, "--workers", "-w"),
) -> None:
    """Load the dataset file, build the DataLoader, fetch one batch and show what came out."""
    spec = load_dataset(dataset)
    cfg = (
        LoaderConfig.from_toml(config) if config else LoaderConfig(batch_size=batch_size, num_workers=workers)
    )
    loader = build_loader(spec.dataset, cfg, spec.extras)
    batch = next(iter(loader))
    out.print(describe_batch(spec, cfg, batch), highlight=False)
