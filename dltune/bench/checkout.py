"""The base side of ``check --against``: the whole repository at a ref, not only the dataset's folder.

``dataset.py`` usually imports the project's own package (from the repository root through
``PYTHONPATH=.``, from ``src/``, or through an editable install). A trial of the base side must import
*those* from the worktree at the ref too, or a slowdown in them is invisible (both sides would run the
new code). ``remap`` runs in the trial process before the dataset file is imported: every import root
inside the repository is put first on ``sys.path`` at its place in the worktree, and the working
directory moves to the matching folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class PathMap:
    """The repository's root in the working tree, and the worktree that stands for it at the ref."""

    root: str
    tree: str

    def inside(self, path: str | Path) -> Path | None:
        """``path`` relative to the repository root, or None when it lies outside."""
        try:
            return Path(path).resolve().relative_to(Path(self.root).resolve())
        except (ValueError, OSError):
            return None

    def moved(self, path: str | Path) -> str | None:
        rel = self.inside(path)
        return None if rel is None else str(Path(self.tree) / rel)


def editable_roots(root: str) -> list[str]:
    """Import roots of the packages installed editable from inside ``root`` (PEP 610 direct_url.json)."""
    found = []
    for dist in metadata.distributions():
        text = dist.read_text("direct_url.json")
        if not text:
            continue
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            info = json.loads(text)
            if not info.get("dir_info", {}).get("editable"):
                continue
            project = Path(unquote(urlparse(info["url"]).path))
            if PathMap(root, root).inside(project) is None:
                continue
            src = project / "src"
            found.append(str(src if src.is_dir() else project))
    return found


def remap(pm: PathMap, dltune_root: str | None = None) -> list[str]:
    """Put the worktree's import roots first on sys.path and move into it; return the roots added.

    ``dltune_root``: where dltune itself is imported from; never remapped (the trial protocol must
    match the parent's), even when the repository under check is dltune's own."""
    cwd = os.getcwd()
    roots = [cwd if p == "" else p for p in sys.path] + editable_roots(pm.root)
    added: list[str] = []
    for p in roots:
        moved = pm.moved(p)
        if moved and moved not in added and Path(moved).is_dir():
            if dltune_root and Path(p).resolve() == Path(dltune_root).resolve():
                continue
            added.append(moved)
    sys.path[:0] = added
    moved_cwd = pm.moved(cwd)
    if moved_cwd and Path(moved_cwd).is_dir():
        os.chdir(moved_cwd)
    for name, module in list(
        sys.modules.items()
    ):  # nothing of the repository stays imported from the new code
        file = getattr(module, "__file__", None)
        if file and not name.startswith("dltune") and pm.inside(file) is not None:
            del sys.modules[name]
    return added


DEPENDENCY_FILES = (
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "requirements*.txt",
    "requirements/*.txt",
    "constraints*.txt",
    "poetry.lock",
    "uv.lock",
    "Pipfile",
    "Pipfile.lock",
    "environment.yml",
    "environment.yaml",
)
"""Files whose change between the ref and the working tree means the environments differ."""
