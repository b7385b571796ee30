"""Every mistake ends in exit 2 naming the cause; anything unforeseen in exit 3 with a log; never exit 1
(which means "regression") and never a raw traceback. The fuzz tests feed bad values to every flag
and every config key."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import dltune.cli.app as cli
from dltune.bench.space import load_space
from dltune.errors import UsageError
from dltune.model import MeasureSettings

from .helpers import EXAMPLES, dltune, one_error_line

DATASET = str(EXAMPLES / "text.py")


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the CLI in this process (fast: bad input fails before anything is measured)."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


BAD_FLAGS = [
    (["bench", DATASET], "--workers", ["two", "-1", "1.5", ",", "0,,x"]),
    (["bench", DATASET], "--batch-size", ["0", "-8", "x"]),
    (["bench", DATASET], "--prefetch", ["0", "y"]),
    (["bench", DATASET], "--pin-memory", ["maybe", ""]),
    (["bench", DATASET], "--persistent", ["perhaps", "1"]),
    (["bench", DATASET], "--start-method", ["forc", "thread", ","]),
    (["bench", DATASET], "--step-ms", ["-5", "nan", "inf", "x"]),
    (["bench", DATASET], "--repeats", ["0", "-1", "x"]),
    (["bench", DATASET], "--timeout", ["0", "nan", "-3", "inf"]),
    (["bench", DATASET], "--max-memory", ["inf", "nan", "-1G", "0", "lots"]),
    (["bench", DATASET], "--max-workers", ["-1", "x"]),
    (["tune", DATASET], "--max-memory", ["inf", "-2G"]),
    (["tune", DATASET], "--workers", ["a"]),
    (["recommend"], "--batch-size", ["0", "-1"]),
    (["recommend"], "--max-workers", ["-4"]),
    (["recommend"], "--max-memory", ["nan"]),
    (["check", DATASET, "--baseline", "b.json"], "--alpha", ["0", "1", "-0.5", "nan", "2"]),
    (["check", DATASET, "--baseline", "b.json"], "--threshold", ["0", "1.5", "nan"]),
    (["check", DATASET, "--baseline", "b.json"], "--rounds", ["0", "1"]),
    (["check", DATASET, "--against", "HEAD"], "--max-time", ["0", "-5", "nan", "inf"]),
    (["check", DATASET, "--against", "HEAD"], "--rounds", ["3"]),
    (["baseline", "save", DATASET], "--rounds", ["1", "0"]),
]


@pytest.mark.parametrize(
    ("argv", "flag", "value"),
    [(argv, flag, v) for argv, flag, values in BAD_FLAGS for v in values],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_a_bad_flag_value_is_exit_2_naming_the_flag(
    argv: list[str], flag: str, value: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = [str(tmp_path / a) if a == "b.json" else a for a in argv]
    if "--baseline" in argv:
        (tmp_path / "b.json").write_text((Path(__file__).parents[1] / "data/v1/baseline.json").read_text())
    code, err = run_main(
        [*argv, flag, value, "--out" if argv[0] in ("bench", "tune") else "--help-x"][:-1], capsys
    )
    assert code == 2, err
    assert "Traceback" not in err and flag in err, err


MEASURE_BAD = {
    "min_batches": ["x", 0, 1.5, True],
    "min_seconds": ["1", -1, math.nan],
    "max_seconds": [0, -2, math.inf, "8"],
    "segments": [1, "four"],
    "precision": [1.0, -0.1, math.nan],
    "timeout_s": [0, math.nan, False],
    "step_ms": [-1, "10"],
    "repeats": [0, 2.5],
    "memory_fraction": [0, 1.5],
    "memory_limit": [-5, "8G"],
    "device": [3],
    "warmup_batches": [-1, "two"],
    "mesure_typo": [1],
}
SPACE_BAD = {
    "workers": ["x", [-1], [1.5], [], ["2"]],
    "batch_size": [[0], ["64"], [True]],
    "prefetch_factor": [[0], "2"],
    "pin_memory": ["maybe", True],
    "persistent_workers": [["true"], [1]],
    "start_method": [["forc"], [3]],
    "references": ["no", 1],
    "max_workers": [-1, "8"],
    "wokers": [[1]],
}


def toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return str(v)


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [("measure", k, v) for k, vs in MEASURE_BAD.items() for v in vs]
    + [("space", k, v) for k, vs in SPACE_BAD.items() for v in vs],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_a_bad_config_value_is_refused_naming_the_key(
    table: str, key: str, value: object, tmp_path: Path
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[{table}]\n{key} = {toml_value(value)}\n")
    with pytest.raises(UsageError) as err:
        load_space(str(path))
    assert f"{table}.{key}" in err.value.message and err.value.hint is not None, err.value.message


def test_a_misspelt_table_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.toml").write_text("[mesure]\nrepeats = 3\n")
    code, err = run_main(["bench", DATASET, "-c", str(tmp_path / "c.toml")], capsys)
    assert code == 2 and "[mesure] is not a table dltune reads" in err and "did you mean [measure]?" in err


def test_measure_settings_accept_what_the_bundled_configs_hold() -> None:
    for name in ("default", "quick", "ci"):
        space, settings = load_space(name)
        assert settings == settings.checked() and isinstance(settings, MeasureSettings)


def test_rich_markup_in_user_text_is_printed_as_it_is(tmp_path: Path) -> None:
    ds = tmp_path / "markup_ds.py"
    ds.write_text('raise RuntimeError("[/x] broken [bold]file[/bold]")\n')
    r = dltune("inspect", str(ds))
    assert r.returncode == 2 and "[/x] broken [bold]file[/bold]" in one_error_line(r)


def test_a_file_that_is_not_python_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    r = dltune("bench", str(tmp_path / "data.csv"))
    assert r.returncode == 2 and "is not a Python file (.py)" in one_error_line(r)


def test_an_unexpected_failure_is_exit_3_with_the_traceback_in_a_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import dltune.cli.probe_cmd as probe_cmd

    def broken(**kwargs: object) -> None:
        raise RuntimeError("a bug [/x]")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(probe_cmd, "probe_hardware", broken)
    code, err = run_main(["probe", "--json"], capsys)
    assert code == 3 and "dltune could not run: RuntimeError: a bug [/x]" in err and "Traceback" not in err
    logs = list((tmp_path / ".dltune" / "logs").glob("dltune-crash-*.log"))
    assert len(logs) == 1 and "Traceback" in logs[0].read_text() and "broken" in logs[0].read_text()


def test_resume_accepts_the_run_file_and_refuses_a_changed_dataset(tmp_path: Path) -> None:
    import json
    import shutil

    ds = tmp_path / "ds.py"
    shutil.copy(EXAMPLES / "text.py", ds)
    folder = tmp_path / "run"
    shutil.copytree(Path(__file__).parents[1] / "data/v1/bench", folder)
    data = json.loads((folder / "run.json").read_text())
    data.update(target=str(ds), fingerprint="0" * 64)  # measured on another version of the file
    (folder / "run.json").write_text(json.dumps(data))
    r = dltune("bench", str(ds), "--resume", str(folder / "run.json"), "--workers", "4")
    assert r.returncode == 2 and "changed since the run" in one_error_line(r)
    assert "ignored: --workers" in r.stderr


def test_against_a_ref_that_looks_like_an_option_is_refused(tmp_path: Path) -> None:
    r = dltune("check", DATASET, "--against=--lock")
    assert r.returncode == 2 and "is not a git ref" in one_error_line(r)
    r = dltune("check", DATASET, "--against", "no-such-branch-xyz")
    assert r.returncode == 2 and "names no commit" in one_error_line(r)


@pytest.mark.parametrize(
    ("target", "says"),
    [("", "no dataset file given"), (str(EXAMPLES) + "/:dataset", "is a folder, not a dataset file")],
)
def test_a_target_that_is_no_file_is_exit_2(
    target: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_main(["bench", target], capsys)
    assert code == 2 and says in err and "Traceback" not in err
