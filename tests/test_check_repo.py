"""check --against sees the whole repository: a slowdown in the project's own package, imported by the
dataset file from the repository root (PYTHONPATH=.), is measured on the base side at the ref too."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from dltune.bench.checkout import PathMap, remap

from .repos import QUICK_CHECK, git

DS = """
import torch
from torch.utils.data import Dataset
from pkg.transforms import work

class DS(Dataset):
    def __len__(self):
        return 512
    def __getitem__(self, i):
        return torch.tensor([work(i)])

dataset = DS()
"""
TRANSFORMS = """
def work(i):
    s = 0
    for k in range({n}):
        s += k * i
    return float(s % 7)
"""


def project(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "pkg").mkdir()
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "transforms.py").write_text(TRANSFORMS.format(n=2000))
    (repo / "data" / "ds.py").write_text(DS)
    (repo / "check.toml").write_text(QUICK_CHECK)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    return repo


def check(repo: Path, ref: str, python: str = sys.executable, env: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    r = subprocess.run(
        [
            python,
            "-m",
            "dltune",
            "check",
            "data/ds.py",
            "--against",
            ref,
            "-c",
            "check.toml",
            "--max-time",
            "90",
            "--json",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
        env=env if env is not None else {**os.environ, "PYTHONPATH": "."},
    )
    assert r.returncode in (0, 1), r.stderr[-3000:]
    return json.loads(r.stdout)  # type: ignore[no-any-return]


@pytest.mark.slow
def test_a_slowdown_in_the_projects_package_fails_and_an_a_a_passes(tmp_path: Path) -> None:
    repo = project(tmp_path)
    (repo / "pkg" / "transforms.py").write_text(TRANSFORMS.format(n=8000))  # 4x the work per sample
    (repo / "requirements.txt").write_text("numpy\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "slower transforms")
    slower = check(repo, "HEAD~1")
    assert slower["verdict"] == "regression", slower
    assert any("dependencies changed" in n and "requirements.txt" in n for n in slower["notes"])
    same = check(repo, "HEAD")
    assert same["verdict"] != "regression", same
    assert not same["notes"]


SRC_PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "demo-src-layout"
version = "0"

[tool.setuptools.packages.find]
where = ["src"]
"""


@pytest.mark.slow
def test_a_src_layout_installed_editable_is_checked_at_the_ref_too(tmp_path: Path) -> None:
    """src/pkg installed editable (pip install -e .) in a virtual environment, no PYTHONPATH: the
    base side imports src/pkg from the worktree at the ref, through the editable install's root."""
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / "src" / "pkg" / "__init__.py").write_text("")
    (repo / "src" / "pkg" / "transforms.py").write_text(TRANSFORMS.format(n=2000))
    (repo / "data" / "ds.py").write_text(DS)
    (repo / "check.toml").write_text(QUICK_CHECK)
    (repo / "pyproject.toml").write_text(SRC_PYPROJECT)
    (repo / ".gitignore").write_text("*.egg-info/\nbuild/\n")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    # a new environment that also sees this one's packages (torch, dltune, pip, setuptools), this one
    # being a virtual environment or not, and gets the editable install of its own
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    own = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    lines = [f"import site; site.addsitedir({p!r})\n" for p in site.getsitepackages()]
    (own / "_parent_environment.pth").write_text("".join(lines))
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(repo)],
        check=True,
        capture_output=True,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    (repo / "src" / "pkg" / "transforms.py").write_text(TRANSFORMS.format(n=8000))  # 4x the work
    git(repo, "commit", "-qam", "slower transforms")
    assert check(repo, "HEAD~1", python, env)["verdict"] == "regression"
    assert check(repo, "HEAD", python, env)["verdict"] != "regression"


def test_remap_puts_the_worktree_first_and_moves_into_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, tree = tmp_path / "repo", tmp_path / "tree"
    for base in (root, tree):
        (base / "src").mkdir(parents=True)
        (base / "data").mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(root / "data")
    monkeypatch.setattr(sys, "path", [str(outside), str(root), str(root / "src"), ""])
    added = remap(PathMap(str(root), str(tree)))
    assert added == [str(tree), str(tree / "src"), str(tree / "data")]
    assert sys.path[:3] == added and str(outside) in sys.path
    assert Path.cwd() == tree / "data"
