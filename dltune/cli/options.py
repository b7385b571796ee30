"""Parsing of list-valued and unit-valued command-line options, and the options several commands share."""

from __future__ import annotations

import os
from collections.abc import Callable

import typer

from dltune.errors import UsageError
from dltune.units import parse_bytes


def int_list(text: str | None, flag: str, lowest: int = 0) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageError(
            f"{flag} {text!r} is not a comma-separated list of integers", f"e.g. {flag} 0,2,4,8"
        ) from None
    if not values or any(v < lowest for v in values):
        raise UsageError(
            f"{flag} {text!r} needs integers >= {lowest}", f"e.g. {flag} {lowest},{lowest + 2},8"
        )
    return values


def bool_list(text: str | None, flag: str) -> tuple[bool, ...] | None:
    if text is None:
        return None
    table = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}
    try:
        return tuple(table[v.strip().lower()] for v in text.split(",") if v.strip())
    except KeyError:
        raise UsageError(f"{flag} {text!r} is not a list of true/false", f"e.g. {flag} false,true") from None


def byte_size(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    try:
        return parse_bytes(text)
    except (ValueError, OverflowError):
        raise UsageError(f"{flag} {text!r} is not a size", f"e.g. {flag} 8G or {flag} 512M") from None


def ranks_per_node(text: str | None, visible_gpus: Callable[[], int]) -> int | None:
    """``--nproc-per-node``: an integer >= 1, or 'auto': LOCAL_WORLD_SIZE when dltune itself runs under
    torchrun, else the visible GPUs (1 without any)."""
    if text is None:
        return None
    if text.strip().lower() == "auto":
        env = os.environ.get("LOCAL_WORLD_SIZE", "")
        return int(env) if env.isdigit() and int(env) > 0 else max(1, visible_gpus())
    if not text.strip().isdigit() or int(text) < 1:
        raise UsageError(
            f"--nproc-per-node {text!r} is not a number of ranks",
            "give an integer >= 1 (the ranks torchrun starts per machine) or auto",
        )
    return int(text)


# the rank options bench and tune share (recommend DATASET and baseline save take --nproc-per-node alone)
NPROC_PER_NODE = typer.Option(
    None,
    "--nproc-per-node",
    help="Ranks per machine, each with its own loader, measured together (torchrun's); or auto.",
)
NNODES = typer.Option(
    None, "--nnodes", help="Machines taking part (run the same command on each); needs --rdzv-endpoint."
)
RDZV_ENDPOINT = typer.Option(
    None, "--rdzv-endpoint", help="host:port where the machines meet (torchrun's c10d rendezvous)."
)
RDZV_ID = typer.Option(None, "--rdzv-id", help="A run id shared by every machine.")
