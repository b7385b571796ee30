"""The typer application: dltune's errors are caught here, once, and turned into a message and an exit code.

Usage errors (unknown flag, missing argument) are typer's own: it prints them and exits with 2.
"""

from __future__ import annotations

import sys

import typer

from dltune.cli.console import err
from dltune.errors import DltuneError
from dltune.version import __version__

app = typer.Typer(
    name="dltune",
    help="Profile and tune PyTorch DataLoader configurations for your dataset on this machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"dltune {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Profile and tune PyTorch DataLoader configurations for your dataset on this machine."""


def _register() -> None:
    # one thin command per file; importing a module registers its command on `app`
    from dltune.cli import bench_cmd, check_cmd, inspect_cmd, probe_cmd, recommend_cmd, tune_cmd  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    _register()
    try:
        app(args=argv)
    except DltuneError as exc:
        err.print(f"[bold red]Error:[/] {exc.message}", highlight=False, markup=True)
        if exc.hint:
            err.print("[yellow]Hint:[/] " + exc.hint.replace("[", r"\["), highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)
