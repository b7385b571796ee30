"""One error hierarchy, caught once at the CLI edge.

Every error carries a ``hint``: what the user should do next. Exit codes are fixed and documented:
1 a regression was found, 2 bad input or usage, 3 a benchmark could not be run, 4 inconclusive (strict).
"""

from __future__ import annotations

import signal
from types import FrameType

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_USAGE = 2
EXIT_FAILURE = 3
EXIT_INCONCLUSIVE = 4


class DltuneError(Exception):
    """Base of every error dltune raises on purpose. ``str(err)`` is one sentence naming the cause."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"


class UsageError(DltuneError):
    """Bad input: a flag, a file, a value the user can fix."""

    exit_code = EXIT_USAGE


class DatasetFileError(UsageError):
    """The dataset file cannot be imported or does not define what the contract asks for."""


class ConfigError(UsageError):
    """A LoaderConfig that DataLoader would reject, or a value that makes no sense."""

    def __init__(self, field: str, message: str, hint: str | None = None) -> None:
        super().__init__(f"{field}: {message}", hint)
        self.field = field


class PluginError(UsageError):
    """An unknown or broken sampler / collate / pinning plugin."""


class ResultsFileError(UsageError):
    """A results or baseline file that is missing, corrupt, or not dltune's."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived (a cancelled CI job, a closed terminal): the stack unwinds, cleaning up
    as for Ctrl-C, and dltune exits with 128 + the signal. A BaseException, so that no ``except
    Exception`` swallows it on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


class BenchmarkError(DltuneError):
    """Measuring could not be done at all (not a single failed trial: those are results)."""

    exit_code = EXIT_FAILURE


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_IGN)  # a second signal must not interrupt the clean-up
    raise Terminated(signum)


def unwind_on_termination() -> None:
    """Make SIGTERM and SIGHUP raise ``Terminated`` in the main thread, so that ``finally`` blocks and
    context managers (trial processes, DataLoader workers, worktrees, temporary folders) clean up as for
    Ctrl-C. The CLI and the benchmark scripts both install it."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_terminated)
