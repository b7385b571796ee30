"""The typer application: dltune's errors are caught here, once, and turned into a message and an exit code.

Usage errors (unknown flag, missing argument) are typer's own: it prints them and exits with 2. Any
other exception is a failure to run (exit 3): one line, and the traceback in a log file. SIGTERM and
SIGHUP (a cancelled CI job, a closed terminal) unwind like Ctrl-C, so every trial process, worktree
and temporary folder is cleaned up on the way out.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

import typer
from rich.text import Text

from dltune.cli.console import Verbosity, err
from dltune.errors import EXIT_FAILURE, DltuneError, Terminated, unwind_on_termination
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
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output (results and errors still)."),
) -> None:
    """Profile and tune PyTorch DataLoader configurations for your dataset on this machine."""
    Verbosity.quiet = quiet


def _register() -> None:
    # one thin command per file; importing a module registers its command on `app`
    from dltune.cli import bench_cmd, check_cmd, inspect_cmd, probe_cmd, recommend_cmd, tune_cmd  # noqa: F401


def crash_log(exc: BaseException) -> Path | None:
    """Write the traceback of an unexpected exception to a log file; None when nothing is writable."""
    text = "".join(traceback.format_exception(exc))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for folder in (Path(".dltune") / "logs", Path(tempfile.gettempdir())):
        path = folder / f"dltune-crash-{stamp}-{os.getpid()}.log"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(f"dltune {__version__}: {' '.join(sys.argv)}\n{text}")
            return path
        except OSError:
            continue
    return None


def main(argv: list[str] | None = None) -> None:
    _register()
    unwind_on_termination()
    try:
        app(args=argv)
    except DltuneError as exc:
        err.print(Text.assemble(("Error: ", "bold red"), exc.message), soft_wrap=True)
        if exc.hint:
            err.print(Text.assemble(("Hint: ", "yellow"), exc.hint), soft_wrap=True)
        sys.exit(exc.exit_code)
    except Terminated as exc:
        err.print(f"Stopped by {signal.Signals(exc.signum).name}; finished trials are saved.")
        sys.exit(128 + exc.signum)
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)
    except Exception as exc:  # a bug or an unforeseen failure: never a raw traceback, never exit 1
        log = crash_log(exc)
        where = f"the traceback is in {log}" if log else "no log could be written"
        err.print(
            Text.assemble(
                ("Error: ", "bold red"),
                f"dltune could not run: {type(exc).__name__}: {exc}"[:500],
                f" ({where}; please report it with that file)",
            )
        )
        sys.exit(EXIT_FAILURE)
