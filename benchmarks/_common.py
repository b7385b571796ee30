"""Shared helpers for the benchmark scripts (run from the repository root).

Importing this module makes SIGTERM and SIGHUP unwind the way they do in the CLI: a benchmark stopped by
``kill`` or ``pkill`` cleans up its trial processes and DataLoader workers on the way out instead of
leaving them orphaned.
"""

from __future__ import annotations

import signal
import statistics
import sys
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(ROOT))

from dltune.errors import Terminated, unwind_on_termination  # noqa: E402

_default_hook = sys.excepthook


def _stopped(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if isinstance(exc, Terminated):
        print(f"Stopped by {signal.Signals(exc.signum).name}.", file=sys.stderr)
    else:
        _default_hook(kind, exc, tb)


unwind_on_termination()
sys.excepthook = _stopped


def median(values: list[float]) -> float:
    return statistics.median(values)


def cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else 0.0
