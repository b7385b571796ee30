"""dltune inspect DATASET: what the dataset file provides, and the DataLoader it builds."""

from __future__ import annotations

from pathlib import Path

import typer

from dltune.cli.app import app
from dltune.cli.console import out
from dltune.engine import LoaderConfig, build_loader, load_dataset
from dltune.engine.describe import describe_batch
from dltune.errors import DatasetFileError


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
    try:
        batch = next(iter(loader))
    except StopIteration:
        raise DatasetFileError(f"{dataset} yielded no batch: the dataset is empty") from None
    except Exception as exc:  # the user's code failed, not dltune: exit 2 with what it said
        raise DatasetFileError(
            f"fetching one batch from {dataset} raised {type(exc).__name__}: {exc}",
            "fix the dataset (or its collate_fn); run it in the foreground with num_workers=0 to debug",
        ) from None
    out.print(describe_batch(spec, cfg, batch), highlight=False)
