"""A check's outputs survive a sink that cannot be written: the verdict, the JSON and JUnit still come."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import EXAMPLES, dltune

V1 = Path(__file__).resolve().parents[1] / "data" / "v1"


@pytest.mark.slow
def test_an_unwritable_step_summary_costs_only_the_summary(tmp_path: Path) -> None:
    r = dltune(
        "check", str(EXAMPLES / "text.py"), "--baseline", str(V1 / "baseline.json"), "--rounds", "2",
        "--junit", str(tmp_path / "j.xml"), "--json",
        env={"GITHUB_STEP_SUMMARY": str(tmp_path / "no" / "such" / "dir" / "summary.md")},
    )  # fmt: skip
    assert r.returncode in (0, 1), r.stderr[-2000:]  # the verdict's own exit code (1 only for a regression)
    assert "Traceback" not in r.stderr and "Warning: could not append to $GITHUB_STEP_SUMMARY" in r.stderr
    result = json.loads(r.stdout)
    assert result["kind"] == "dltune.check" and result["verdicts"]
    assert (tmp_path / "j.xml").read_text().startswith("<?xml")
    (tmp_path / "a-file").write_text("not a folder")
    r = dltune(
        "check", str(EXAMPLES / "text.py"), "--baseline", str(V1 / "baseline.json"), "--rounds", "2",
        "--junit", str(tmp_path / "a-file" / "j.xml"),
    )  # fmt: skip
    assert r.returncode in (1, 3) and "could not write --junit" in r.stderr and "Traceback" not in r.stderr
