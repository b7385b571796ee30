"""What the tests that run `dltune check --against` on a throwaway git repository share."""

from __future__ import annotations

import subprocess
from pathlib import Path

QUICK_CHECK = """
[space]
workers = [0]
batch_size = [16]
prefetch_factor = [2]
persistent_workers = [false]
references = false

[measure]
min_batches = 8
min_seconds = 0.3
max_seconds = 1.0
segments = 4
precision = 0
repeats = 6
timeout_s = 60
"""
"""One configuration, short windows, 6 rounds (the fewest the paired test can call significant)."""


def git(repo: Path, *args: str) -> None:
    """Run git in ``repo`` as a throwaway identity; fail the test on an error."""
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C", str(repo), *args],
        check=True,
        capture_output=True,
    )
