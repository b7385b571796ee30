"""Where the CLI writes: data to stdout, messages and progress to stderr.

Piped or captured output gets 140 columns instead of rich's 80, so result tables stay readable in
CI logs and files. Markup is off: user text (a sample's repr, an exception message, a file name with
``[/x]`` in it) is printed as it is, never parsed; styles come from ``rich.text.Text``.
"""

from __future__ import annotations

from rich.console import Console


def _console(stderr: bool) -> Console:
    c = Console(stderr=stderr, markup=False)
    return c if c.is_terminal else Console(stderr=stderr, width=140, markup=False)


out = _console(False)
err = _console(True)


class Verbosity:
    quiet = False
    """--quiet: no progress (live view or log lines); results, warnings and errors still print."""
