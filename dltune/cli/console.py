"""Where the CLI writes: data to stdout, messages and progress to stderr.

Piped or captured output gets 140 columns instead of rich's 80, so result tables stay readable in
CI logs and files.
"""

from __future__ import annotations

from rich.console import Console


def _console(stderr: bool) -> Console:
    c = Console(stderr=stderr)
    return c if c.is_terminal else Console(stderr=stderr, width=140)


out = _console(False)
err = _console(True)
