"""The regression verdict: fails only a significant drop beyond the threshold; says when noise hides it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dltune.bench.abba import abba, checkout_at
from dltune.errors import BenchmarkError, ResultsFileError, UsageError
from dltune.model import TrialResult
from dltune.model.loader import LoaderConfig
from dltune.model.settings import MeasureSettings
from dltune.regress import INCONCLUSIVE, PASS, REGRESSION, SPEEDUP, CheckResult, judge
from dltune.report import check as render
from dltune.store import load_baseline

from .synthetic import trial

BASE = [1000, 1010, 990, 1005, 995, 1002, 998, 1003]


def scaled(
    f: float, jitter: tuple[float, ...] = (1.0, 1.004, 0.996, 1.002, 0.998, 1.001, 0.999, 1.003)
) -> list[float]:
    return [b * f * j for b, j in zip(BASE, jitter, strict=True)]


@pytest.mark.parametrize("paired", [True, False])
def test_verdicts(paired: bool) -> None:
    assert judge("k", BASE, scaled(1.0), threshold=0.05, alpha=0.05, paired=paired).verdict == PASS
    assert judge("k", BASE, scaled(0.9), threshold=0.05, alpha=0.05, paired=paired).verdict == REGRESSION
    assert (
        judge("k", BASE, scaled(0.97), threshold=0.05, alpha=0.05, paired=paired).verdict == PASS
    )  # small drop
    assert judge("k", BASE, scaled(1.3), threshold=0.05, alpha=0.05, paired=paired).verdict == SPEEDUP


def test_noise_too_high_is_inconclusive_not_a_guess() -> None:
    noisy = [1000, 1400, 700, 1200, 800, 1300, 650, 1100]
    v = judge("k", BASE, noisy, threshold=0.05, alpha=0.05, paired=True)
    assert v.verdict == INCONCLUSIVE and "too high to rule out a 5% drop" in v.reason
    assert judge("k", BASE[:1], BASE[:1], threshold=0.05, alpha=0.05, paired=False).verdict == INCONCLUSIVE
    few = judge("k", BASE[:3], [b * 0.5 for b in BASE[:3]], threshold=0.05, alpha=0.05, paired=True)
    assert few.verdict == INCONCLUSIVE and "use --rounds 5 or more" in few.reason  # 1/2**3 = 0.125 > 0.05


def test_overall_verdict_is_the_worst() -> None:
    r = CheckResult(
        "against",
        "d.py",
        0.05,
        0.05,
        [
            judge("a", BASE, scaled(1.0), threshold=0.05, alpha=0.05, paired=True),
            judge("b", BASE, scaled(0.8), threshold=0.05, alpha=0.05, paired=True),
        ],
    )
    assert r.verdict == REGRESSION
    xml = render.junit(r)
    assert 'tests="2" failures="1"' in xml and "<failure" in xml
    assert "❌ regression" in render.markdown(r)
    assert json.loads(render.as_json(r))["verdict"] == "regression"


def test_abba_alternates_order_and_pairs_rounds() -> None:
    calls: list[tuple[str, int]] = []

    def fake(
        target: str, config: LoaderConfig, settings: MeasureSettings, repeat: int = 0, **kw
    ) -> TrialResult:
        calls.append((target, repeat))
        return trial(2, 100.0 if target == "A" else 90.0)

    a, b = abba(
        "A", "B", [LoaderConfig(batch_size=64, num_workers=2)], MeasureSettings(), 4, trial_runner=fake
    )
    assert [t for t, _ in calls] == ["A", "B", "B", "A", "A", "B", "B", "A"]
    key = LoaderConfig(batch_size=64, num_workers=2).key()
    assert a[key] == [100.0] * 4 and b[key] == [90.0] * 4


def test_a_failing_side_is_a_benchmark_error() -> None:
    def broken(target, config, settings, repeat=0, **kw):
        return TrialResult(key="k", config={}, status="failed", reason="dataset raised KeyError")

    with pytest.raises(BenchmarkError, match="candidate side failed.*KeyError"):
        abba(
            "A",
            "B",
            [LoaderConfig()],
            MeasureSettings(),
            1,
            trial_runner=lambda t, *a, **k: trial(0, 1.0) if t == "A" else broken(t, *a, **k),
        )


def test_checkout_at_a_git_ref(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    ds = repo / "data" / "ds.py"
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    ds.write_text("VERSION = 1\n")
    subprocess.run([*git, "-C", str(repo), "add", "."], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-qm", "v1"], check=True)
    ds.write_text("VERSION = 2\n")
    with checkout_at(str(ds), "HEAD") as old:
        assert Path(old).read_text() == "VERSION = 1\n" and Path(old) != ds
    assert not Path(old).exists()  # the worktree is removed afterwards
    with pytest.raises(UsageError, match="git"), checkout_at(str(ds), "no-such-ref"):
        pass


def test_corrupt_and_foreign_baselines(tmp_path: Path) -> None:
    p = tmp_path / "b.json"
    p.write_text("{not json")
    with pytest.raises(ResultsFileError, match="not valid JSON"):
        load_baseline(p)
    p.write_text(json.dumps({"kind": "dltune.run", "schema_version": 1}))
    with pytest.raises(ResultsFileError, match="not a dltune baseline"):
        load_baseline(p)
    p.write_text(json.dumps({"kind": "dltune.baseline", "schema_version": 1, "configs": []}))
    with pytest.raises(ResultsFileError, match="damaged"):
        load_baseline(p)


TINY_CI = """
[space]
workers = [0]
batch_size = [16]
references = false
[measure]
min_batches = 6
min_seconds = 0.2
max_seconds = 2
segments = 3
repeats = 5
"""


@pytest.mark.slow
def test_check_cli_end_to_end(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    ds = repo / "pipeline.py"
    ds.write_text(
        "import time, torch\nDELAY = 0.0\nclass D(torch.utils.data.Dataset):\n"
        "    def __len__(self): return 256\n"
        "    def __getitem__(self, i):\n        time.sleep(0.0005 + DELAY)\n        return torch.zeros(4)\n"
        "dataset = D()\n"
    )
    (tmp_path / "ci.toml").write_text(TINY_CI)
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], check=True)
    ds.write_text(ds.read_text().replace("DELAY = 0.0", "DELAY = 0.002"))  # 5x slower per sample
    cmd = [sys.executable, "-m", "dltune", "check", str(ds), "--config", str(tmp_path / "ci.toml")]
    summary = tmp_path / "summary.md"
    r = subprocess.run(
        [*cmd, "--against", "HEAD", "--junit", str(tmp_path / "j.xml"), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["verdict"] == "regression"
    assert 'failures="1"' in (tmp_path / "j.xml").read_text() and "regression" in summary.read_text()
    # baseline mode: save from the slow version, check the same slow version: no alarm
    base = tmp_path / "base.json"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "dltune",
            "baseline",
            "save",
            str(ds),
            "--config",
            str(tmp_path / "ci.toml"),
            "--out",
            str(base),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*cmd, "--baseline", str(base), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["verdict"] in ("pass", "inconclusive")
    r = subprocess.run([*cmd, "--baseline", str(base), "--against", "HEAD"], capture_output=True, text=True)
    assert r.returncode == 2 and "exactly one of" in r.stderr
