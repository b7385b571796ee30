"""The CI jobs in examples/ci work as written: parsed as YAML, and their shell steps run against a local
repository (a bare 'origin' and a clone with a change). Only the install lines are not run: they
download torch and dltune, and this machine reaches no network; dltune is installed here already."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .repos import QUICK_CHECK, git

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / "examples" / "ci"

DATASET = """
import torch
from torch.utils.data import Dataset

class DS(Dataset):
    def __len__(self):
        return 256
    def __getitem__(self, i):
        return torch.full((4,), float(sum(range({n}))))

dataset = DS()
"""
PYPROJECT = """
[project]
name = "demo"
version = "0"

[tool.dltune]
dataset = "data/dataset.py"
config = "check.toml"
max_time = 30
"""


def sh(cwd: Path, *args: str) -> None:
    subprocess.run(list(args), cwd=cwd, check=True, capture_output=True)


def repository(tmp_path: Path) -> Path:
    """origin.git with 'main', and a clone on a branch that changed the dataset (a merge request)."""
    seed = tmp_path / "seed"
    (seed / "data").mkdir(parents=True)
    (seed / "data" / "dataset.py").write_text(DATASET.format(n=50))
    (seed / "pyproject.toml").write_text(PYPROJECT)
    (seed / "check.toml").write_text(QUICK_CHECK)
    (seed / "requirements.txt").write_text("")
    sh(seed, "git", "init", "-q", "-b", "main")
    sh(seed, "git", "add", ".")
    git(seed, "commit", "-qm", "base")
    sh(tmp_path, "git", "clone", "-q", "--bare", str(seed), "origin.git")
    sh(tmp_path, "git", "clone", "-q", str(tmp_path / "origin.git"), "work")
    work = tmp_path / "work"
    sh(work, "git", "checkout", "-q", "-b", "change")
    (work / "data" / "dataset.py").write_text(DATASET.format(n=60))
    git(work, "commit", "-qam", "a change")
    return work


def steps(job_file: Path) -> tuple[dict, list[str]]:  # type: ignore[type-arg]
    doc = yaml.safe_load(job_file.read_text())
    jobs = doc.get("jobs", doc)  # GitHub nests jobs under `jobs:`; GitLab names them at the top
    job = next(v for v in jobs.values() if isinstance(v, dict) and ("steps" in v or "script" in v))
    lines = [s["run"] for s in job["steps"] if "run" in s] if "steps" in job else list(job["script"])
    return job, lines


def run_steps(lines: list[str], cwd: Path, env: dict[str, str]) -> None:
    bindir = str(Path(sys.executable).parent)  # `dltune` and `python` of this environment
    for text in lines:
        if "pip install" in text:
            continue
        r = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", text],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, **env, "PATH": bindir + os.pathsep + os.environ["PATH"]},
        )
        assert r.returncode in (0, 4), f"{text}\n{r.stderr[-3000:]}"


def test_the_jobs_have_what_a_pipeline_needs() -> None:
    gh, gh_lines = steps(CI / "github-actions.yml")
    assert gh["timeout-minutes"] and any(s.get("with", {}).get("fetch-depth") == 0 for s in gh["steps"])
    assert any(s.get("with", {}).get("cache") == "pip" for s in gh["steps"])
    assert any(s.get("if") == "always()" and "upload-artifact" in s.get("uses", "") for s in gh["steps"])
    gl, gl_lines = steps(CI / "gitlab-ci.yml")
    assert gl["timeout"] and gl["cache"] and gl["artifacts"]["reports"]["junit"] == "dltune-junit.xml"
    for text in gh_lines + gl_lines:  # dltune is not on a package index: never `pip install dltune`
        assert "pip install dltune" not in text


@pytest.mark.slow
@pytest.mark.parametrize("job", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_check_steps_run_as_written(job: str, tmp_path: Path) -> None:
    work = repository(tmp_path)
    _, lines = steps(CI / job)
    env = {"BASE_REF": "main", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary.md")
    run_steps(lines, work, env)
    assert "dltune check" in (work / "dltune-check.md").read_text()
    assert (work / "dltune-junit.xml").read_text().startswith("<?xml")
