"""A file dltune reads (config, run, baseline, recommendation) never makes it import or run code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import dltune
from dltune.errors import UsageError

from .helpers import EXAMPLES, one_error_line
from .helpers import dltune as run_dltune

V1 = Path(__file__).resolve().parents[1] / "data" / "v1"

EVIL = """
from pathlib import Path
Path(__file__).with_name("IMPORTED").write_text("code from a data file ran")
def fn(*args, **kwargs):
    return None
"""


@pytest.fixture
def evil(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A module that leaves a marker file when imported, importable through PYTHONPATH."""
    (tmp_path / "evil_mod.py").write_text(EVIL)
    return tmp_path / "IMPORTED", {"PYTHONPATH": str(tmp_path)}


def test_a_baseline_naming_a_module_is_refused(evil, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker, env = evil
    data = json.loads((V1 / "baseline.json").read_text())
    data["configs"][0]["config"]["collate"] = "evil_mod:fn"
    (tmp_path / "b.json").write_text(json.dumps(data))
    r = run_dltune("check", str(EXAMPLES / "text.py"), "--baseline", str(tmp_path / "b.json"), env=env)
    assert r.returncode == 2
    assert "names code to import (collate='evil_mod:fn')" in one_error_line(r)
    assert "DLTUNE_TRUST_FILES=1" in r.stderr
    assert not marker.exists()


def test_a_resumed_run_naming_a_module_is_refused(evil, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker, env = evil
    folder = tmp_path / "run"
    shutil.copytree(V1 / "bench", folder)
    data = json.loads((folder / "run.json").read_text())
    data["trials"][1]["config"]["sampler"] = "evil_mod:fn"
    (folder / "run.json").write_text(json.dumps(data))
    r = run_dltune("bench", str(EXAMPLES / "text.py"), "--resume", str(folder), env=env)
    assert r.returncode == 2 and "names code to import (sampler='evil_mod:fn')" in one_error_line(r)
    assert not marker.exists()


def test_a_config_file_naming_a_module_is_refused(evil, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker, env = evil
    (tmp_path / "c.toml").write_text('[space.loader]\ncollate = "evil_mod:fn"\n')
    r = run_dltune("bench", str(EXAMPLES / "text.py"), "-c", str(tmp_path / "c.toml"), env=env)
    assert r.returncode == 2 and "c.toml" in one_error_line(r) and "evil_mod:fn" in r.stderr
    assert not marker.exists()


def test_a_recommendation_naming_a_module_is_refused_unless_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = json.loads((V1 / "recommendation.json").read_text())
    data["chosen"]["config"]["pinning"] = "os:system"
    (tmp_path / "recommendation.json").write_text(json.dumps(data))
    with pytest.raises(UsageError, match="names code to import"):
        dltune.load_recommendation(tmp_path)
    monkeypatch.setenv("DLTUNE_TRUST_FILES", "1")  # the explicit opt-in for a file you wrote
    assert dltune.load_recommendation(tmp_path).chosen.config.pinning == "os:system"


def test_registered_plugins_in_files_are_fine(tmp_path: Path) -> None:
    data = json.loads((V1 / "recommendation.json").read_text())
    data["chosen"]["config"]["collate"] = "pad"
    (tmp_path / "recommendation.json").write_text(json.dumps(data))
    assert dltune.load_recommendation(tmp_path).chosen.config.collate == "pad"
