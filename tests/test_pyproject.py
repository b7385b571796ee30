"""[tool.dltune] in pyproject.toml gives `dltune check` its settings; flags win; bad values are exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dltune.errors import UsageError
from dltune.pyproject import CheckDefaults, load_check_defaults

ROOT = Path(__file__).resolve().parent.parent


def write(folder: Path, table: str) -> Path:
    (folder / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.dltune]\n' + table)
    return folder


def test_settings_are_read_typed_from_the_nearest_pyproject(tmp_path: Path) -> None:
    write(
        tmp_path,
        'dataset = "data/ds.py"\nagainst = "origin/main"\nthreshold = 0.1\nrounds = 12\nnproc_per_node = 2\n',
    )
    (tmp_path / "data").mkdir()
    found = load_check_defaults(tmp_path / "data")
    assert found == CheckDefaults(
        dataset="data/ds.py",
        against="origin/main",
        threshold=0.1,
        rounds=12,
        nproc_per_node=2,
        source=str(tmp_path / "pyproject.toml"),
    )


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ("treshold = 0.1\n", "tool.dltune.treshold is not a check setting"),
        ('rounds = "8"\n', "tool.dltune.rounds"),
        ('nproc_per_node = "two"\n', "tool.dltune.nproc_per_node"),
    ],
)
def test_a_bad_setting_names_the_key(tmp_path: Path, table: str, says: str) -> None:
    with pytest.raises(UsageError, match=says) as err:
        load_check_defaults(write(tmp_path, table))
    assert err.value.hint


def test_the_check_uses_them_and_flags_win(tmp_path: Path) -> None:
    write(tmp_path, f'dataset = "{ROOT / "examples" / "text.py"}"\nagainst = "--lock"\n')

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "dltune", "check", *args]
        return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    r = check()  # everything from [tool.dltune]: its ref is refused before anything runs
    assert r.returncode == 2 and "--against '--lock' is not a git ref" in r.stderr
    r = check("--alpha", "2")  # a flag wins, and is checked
    assert r.returncode == 2 and "--alpha 2.0 is not a probability" in r.stderr
