"""dltune probe: what this machine offers a DataLoader."""

from __future__ import annotations

import json

import typer

from dltune.cli.app import app
from dltune.cli.console import out
from dltune.hardware.facts import probe as probe_hardware
from dltune.report.tables import probe_table
from dltune.store import to_json


@app.command()
def probe(
    as_json: bool = typer.Option(False, "--json", help="Print the facts as JSON."),
    h2d: bool = typer.Option(True, "--h2d/--no-h2d", help="Measure host-to-device copy rates (needs a GPU)."),
) -> None:
    """Usable CPUs, RAM, shared memory, open-file limit, GPUs and their measured host-to-device rate."""
    hw = probe_hardware(h2d=h2d)
    if as_json:
        print(json.dumps(to_json(hw), indent=2))
    else:
        out.print(probe_table(hw))
