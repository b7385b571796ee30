"""The repository as it was at a git ref, in a temporary worktree: the base side of ``check --against``."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dltune.bench.checkout import DEPENDENCY_FILES, PathMap
from dltune.engine.dataset_file import split_target
from dltune.errors import BenchmarkError, UsageError

GIT_TIMEOUT_S = 120


def _git(args: list[str], cwd: Path) -> str:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise UsageError(
            "--against needs git, and git is not installed", "install git, or use --baseline"
        ) from None
    except subprocess.TimeoutExpired:
        raise BenchmarkError(
            f"git {args[0]} did not finish within {GIT_TIMEOUT_S} s",
            "check the repository is not locked by another git process, or use --baseline",
        ) from None
    if proc.returncode != 0:
        raise UsageError(
            f"git {' '.join(args)} failed: {proc.stderr.strip()}",
            "check the ref exists (git fetch it first in CI: actions/checkout with fetch-depth: 0)",
        )
    return proc.stdout.strip()


@dataclass(frozen=True)
class BaseSide:
    target: str
    """The dataset target inside the worktree."""
    paths: PathMap
    dependencies_changed: tuple[str, ...]
    """Dependency files that differ between the ref and the working tree."""


@contextlib.contextmanager
def checkout_at(target: str, ref: str) -> Iterator[str]:
    """The dataset target as it was at ``ref`` (see ``base_side``)."""
    with base_side(target, ref) as side:
        yield side.target


@contextlib.contextmanager
def base_side(target: str, ref: str) -> Iterator[BaseSide]:
    """The repository at ``ref`` in a temporary worktree: the dataset target in it, the map from the
    repository root to it, and which dependency files changed since."""
    source, attr = split_target(target)
    path = Path(source).resolve()
    if not path.is_file():
        raise UsageError(f"--against needs a dataset file path; {source} is not a file")
    top = Path(_git(["rev-parse", "--show-toplevel"], path.parent))
    rel = path.relative_to(top)
    commit = resolve_ref(ref, top)
    tmp = Path(tempfile.mkdtemp(prefix="dltune-against-"))
    worktree = tmp / "base"
    try:
        _git(["worktree", "add", "--detach", "--", str(worktree), commit], top)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        old = worktree / rel
        if not old.is_file():
            raise UsageError(f"{rel} does not exist at {ref}", "pick a ref where the dataset file exists")
        changed = _git(["diff", "--name-only", commit, "--", *DEPENDENCY_FILES], top).split()
        yield BaseSide(
            f"{old}:{attr}" if attr != "dataset" else str(old),
            PathMap(str(top), str(worktree)),
            tuple(changed),
        )
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                ["git", "worktree", "remove", "--force", "--", str(worktree)],
                cwd=top,
                capture_output=True,
                timeout=GIT_TIMEOUT_S,
            )
        shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(
            subprocess.SubprocessError, OSError
        ):  # forget a worktree whose folder is gone
            subprocess.run(["git", "worktree", "prune"], cwd=top, capture_output=True, timeout=GIT_TIMEOUT_S)


def resolve_ref(ref: str, top: Path) -> str:
    """The commit ``ref`` names, resolved so that git never reads it as an option (``--against=--lock``)."""
    if not ref or ref.startswith("-") or any(c.isspace() or ord(c) < 32 for c in ref):
        raise UsageError(
            f"--against {ref!r} is not a git ref", "use a branch, tag or commit, e.g. origin/main"
        )
    try:
        return _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"], top)
    except UsageError:
        raise UsageError(
            f"--against {ref!r} names no commit in {top}",
            "check the ref exists (git fetch it first in CI: actions/checkout with fetch-depth: 0)",
        ) from None
