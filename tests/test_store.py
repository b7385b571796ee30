"""Saved files: version 1 files (made by dltune 0.1) still load, typed; damage names the field; the frame."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dltune
from dltune.errors import ResultsFileError
from dltune.model import Baseline, HardwareFacts, LoaderConfig, Preflight, RunResult, Search, Tuning
from dltune.recommend import recommend
from dltune.report import markdown
from dltune.store import SCHEMA_VERSION, load_baseline, load_run, save_baseline, save_run

V1 = Path(__file__).parent / "data" / "v1"


def copy_run(src: Path, tmp_path: Path, edit=None) -> Path:  # type: ignore[no-untyped-def]
    data = json.loads((src / "run.json").read_text())
    if edit:
        edit(data)
    folder = tmp_path / src.name
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps(data))
    return folder


@pytest.mark.parametrize("kind", ["bench", "tune"])
def test_version_1_runs_load_typed_and_resave_as_version_2(kind: str, tmp_path: Path) -> None:
    run = load_run(V1 / kind)
    assert isinstance(run.hardware, HardwareFacts) and run.hardware.cpu.usable >= 1
    assert isinstance(run.preflight, Preflight) and run.preflight.from_file == ("collate_fn",)
    assert all(isinstance(t.config, LoaderConfig) for t in run.trials)
    assert isinstance(run.search, Search) and run.search.stages
    if kind == "tune":
        assert isinstance(run.tuning, Tuning) and run.tuning.costs and run.tuning.predictions
        assert run.search.ceiling and "--max-workers 2" in run.search.ceiling.limit
    rec = recommend(run)
    assert rec.chosen.key in {t.key for t in run.trials}
    assert "## " in markdown.render(rec)
    save_run(run, tmp_path)
    saved = json.loads((tmp_path / "run.json").read_text())
    assert saved["schema_version"] == SCHEMA_VERSION == 2
    assert load_run(tmp_path) == run


def test_an_early_version_1_run_without_later_sections_loads_with_defaults(tmp_path: Path) -> None:
    def strip(d: dict) -> None:  # type: ignore[type-arg]
        del d["search"]
        del d["settings"]["precision"]
        del d["space"]["max_workers"]
        del d["hardware"]["process_headroom"]

    run = load_run(copy_run(V1 / "bench", tmp_path, strip))
    assert run.search is None and run.settings.precision == 0.03 and run.space.max_workers is None
    assert recommend(run).search is None


def test_version_1_recommendation_and_baseline_load(tmp_path: Path) -> None:
    rec = dltune.load_recommendation(V1 / "recommendation.json")
    assert rec.loader_config.key() == rec.chosen.key and rec.loader == rec.loader_config.loader_kwargs()
    baseline = load_baseline(V1 / "baseline.json")
    assert isinstance(baseline, Baseline) and len(baseline.configs) == 2
    assert all(len(c.samples) == 2 and c.key == c.config.key() for c in baseline.configs)
    save_baseline(tmp_path / "b.json", baseline)
    assert json.loads((tmp_path / "b.json").read_text())["schema_version"] == 2
    assert load_baseline(tmp_path / "b.json") == baseline


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda d: d["trials"][1]["metrics"].__setitem__("cv", "high"), "trials[1].metrics.cv"),
        (lambda d: d["trials"][0]["config"].__setitem__("num_workers", 2.5), "trials[0].config.num_workers"),
        (lambda d: d["hardware"]["cpu"].pop("usable"), "hardware.cpu.usable: is missing"),
        (lambda d: d.__setitem__("trials", {}), "trials: {} is not a list"),
        (lambda d: d["search"]["stages"][0].__setitem__("seconds", None), "search.stages[0].seconds"),
    ],
)
def test_a_damaged_field_is_named(edit, where: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ResultsFileError, match=r"is damaged: " + __import__("re").escape(where)) as err:
        load_run(copy_run(V1 / "bench", tmp_path, edit))
    assert err.value.hint


def test_an_unknown_version_or_kind_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ResultsFileError, match="schema version 9; this dltune reads versions 1, 2") as err:
        load_run(copy_run(V1 / "bench", tmp_path, lambda d: d.__setitem__("schema_version", 9)))
    assert "upgrade dltune" in (err.value.hint or "")
    shutil.copy(V1 / "baseline.json", tmp_path / "run.json")
    with pytest.raises(ResultsFileError, match="not a dltune results file"):
        load_run(tmp_path)


def test_the_trials_frame_is_tidy_and_the_csv_is_written_from_it(tmp_path: Path) -> None:
    run: RunResult = dltune.load_run(V1 / "tune")
    frame = run.frame()
    assert len(frame) == len(run.trials)
    assert {"key", "role", "repeat", "status", "num_workers", "batch_size", "samples_per_s", "reason"} <= set(
        frame.columns
    )
    ok = frame[frame.status == "ok"]
    assert list(ok.samples_per_s) == [t.metrics.samples_per_s for t in run.trials if t.ok and t.metrics]
    assert frame.groupby("num_workers").samples_per_s.max().index.tolist() == sorted(
        {t.config.num_workers for t in run.trials}
    )
    save_run(run, tmp_path)
    assert (tmp_path / "trials.csv").read_text() == frame.to_csv(index=False)


BLOCK_TORCH = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, Block())
"""


def test_results_work_without_torch(tmp_path: Path) -> None:
    """recommend, regress, report and store (and `import dltune`) load no torch: a saved run is read,
    decided and rendered where torch is not installed."""
    code = (
        BLOCK_TORCH
        + f"""
import dltune, dltune.store, dltune.recommend, dltune.regress, dltune.diagnose, dltune.model
import dltune.report.markdown, dltune.report.terminal, dltune.report.check, dltune.report.words
import dltune.report.tables, dltune.report.files
from dltune.recommend import recommend
run = dltune.load_run({str(V1 / "tune")!r})
rec = recommend(run)
text = dltune.report.markdown.render(rec)
dltune.report.files.write_reports(rec, __import__("pathlib").Path({str(tmp_path)!r}))
back = dltune.load_recommendation({str(tmp_path)!r})
assert back.chosen == rec.chosen, "round trip"
assert not any(m.split(".")[0] == "torch" for m in sys.modules)
print("ok", rec.chosen.key)
"""
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok w")


def test_a_full_disk_while_saving_is_a_clear_failure_and_keeps_what_was_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from dltune.errors import BenchmarkError

    run = load_run(V1 / "bench")
    save_run(run, tmp_path)
    before = (tmp_path / "run.json").read_text()
    real_fdopen = os.fdopen

    def full(fd: int, mode: str = "r"):  # type: ignore[no-untyped-def]
        f = real_fdopen(fd, mode)

        def write(text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        f.write = write  # type: ignore[method-assign]
        return f

    monkeypatch.setattr("dltune.store.os.fdopen", full)
    with pytest.raises(BenchmarkError, match="could not save the run to .*No space left on device") as err:
        save_run(run, tmp_path)
    assert "--resume" in (err.value.hint or "")
    assert (tmp_path / "run.json").read_text() == before  # the earlier save is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json", "trials.csv"]  # no temporary file left
