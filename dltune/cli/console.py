"""Where the CLI writes: data to stdout, messages and progress to stderr."""

from __future__ import annotations

from rich.console import Console

out = Console(soft_wrap=True)
err = Console(stderr=True)
