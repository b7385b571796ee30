"""The command line, end to end, as a user runs it (python -m dltune in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES


def dltune(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dltune", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def test_probe_json() -> None:
    r = dltune("probe", "--json", "--no-h2d")
    assert r.returncode == 0, r.stderr
    facts = json.loads(r.stdout)
    assert facts["cpu"]["usable"] >= 1 and facts["memory"]["shm_total"] > 0


def test_bad_dataset_file_is_one_clear_error() -> None:
    r = dltune("bench", "no/such/dataset.py")
    assert r.returncode == 2
    assert "Error: dataset file no/such/dataset.py does not exist" in r.stderr and "Traceback" not in r.stderr


def test_bad_flag_value() -> None:
    r = dltune("bench", str(EXAMPLES / "imbalanced.py"), "--workers", "two")
    assert r.returncode == 2 and "--workers 'two' is not a comma-separated list" in r.stderr


def test_corrupt_resume_file(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text('{"kind": "dltune.run", "schema_version": 1, "trials": [')
    r = dltune("bench", str(EXAMPLES / "imbalanced.py"), "--resume", str(tmp_path))
    assert r.returncode == 2 and "not valid JSON" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_bench_saves_a_run(tmp_path: Path) -> None:
    r = dltune(
        "bench",
        str(EXAMPLES / "imbalanced.py"),
        "--config",
        "quick",
        "--workers",
        "0,2",
        "--batch-size",
        "256",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)
    assert run["schema_version"] == 2 and run["kind"] == "dltune.run" and run["complete"]
    keys = {t["key"] for t in run["trials"]}
    assert {"w0-b256-off", "w2-b256-pf2-off-persist"} <= keys
    assert all(t["status"] == "ok" for t in run["trials"])
    folder = next(tmp_path.iterdir())
    assert (folder / "run.json").is_file() and (folder / "trials.csv").is_file()


def test_inspect_shows_the_loader_call() -> None:
    r = dltune("inspect", str(EXAMPLES / "text.py"), "--batch-size", "4")
    assert r.returncode == 0, r.stderr
    assert "collate_fn=collate_fn" in r.stdout and "tensor (4," in r.stdout
