"""``[tool.dltune]`` in the project's pyproject.toml: the check's settings, so a CI job line stays short.

    [tool.dltune]
    dataset = "data/dataset.py"
    against = "origin/main"      # or: baseline = "dltune-baseline.json"
    threshold = 0.05
    max_time = 240             # seconds of side-by-side measuring (--against)
    alpha = 0.05
    config = "ci"
    strict = false
    nproc_per_node = 2         # --against: each side measured as a node of this many ranks

Flags given on the command line win. The file is data: it names files and numbers, never code.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from dltune.errors import UsageError
from dltune.model.codec import SchemaError, from_json


@dataclass(frozen=True)
class CheckDefaults:
    dataset: str | None = None
    against: str | None = None
    baseline: str | None = None
    threshold: float | None = None
    rounds: int | None = None
    max_time: float | None = None
    alpha: float | None = None
    config: str | None = None
    strict: bool | None = None
    nproc_per_node: int | None = None
    source: str = ""
    """The pyproject.toml these came from ('' when there is none)."""


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above ``start``, not above the repository root."""
    for folder in [start.resolve(), *start.resolve().parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
        if (folder / ".git").exists():
            return None
    return None


def load_check_defaults(start: Path = Path(".")) -> CheckDefaults:
    path = find_pyproject(start)
    if path is None:
        return CheckDefaults()
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(
            f"cannot read {path}: {exc}", "fix the file, or run dltune check outside it"
        ) from None
    table: Any = doc.get("tool", {}).get("dltune", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.dltune] is not a table", "see the README's `dltune check` section")
    known = [f.name for f in fields(CheckDefaults) if f.name != "source"]
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            raise UsageError(
                f"{path}: tool.dltune.{key} is not a check setting",
                f"did you mean {close[0]!r}?" if close else f"valid settings: {', '.join(known)}",
            )
    try:
        found: CheckDefaults = from_json(CheckDefaults, {**table, "source": str(path)}, "tool.dltune")
    except SchemaError as exc:
        raise UsageError(
            f"{path}: {exc.path}: {exc.problem}", "see the README's `dltune check` section"
        ) from None
    return found
