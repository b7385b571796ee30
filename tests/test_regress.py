"""The regression verdict: fails only a significant drop beyond the threshold; says when noise hides it."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

from dltune.bench.paired import BLOCK_PAIRS, duel
from dltune.bench.worktree import checkout_at
from dltune.errors import ResultsFileError, UsageError
from dltune.model.loader import LoaderConfig
from dltune.model.settings import MeasureSettings
from dltune.regress import INCONCLUSIVE, PASS, REGRESSION, SPEEDUP, CheckResult, judge, sequential_verdict
from dltune.report import check as render
from dltune.sequential import SequentialTest
from dltune.store import load_baseline

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


class FakeSide:
    """A side whose windows run at ``rates[name]`` (the first window of each side off by 2x: a cold start)."""

    def __init__(
        self, log: list[str], rates: dict[str, float], clock: list[float], noise: float, pair_effect: float
    ) -> None:
        self.log, self.rates, self.clock, self.noise, self.pair_effect = log, rates, clock, noise, pair_effect
        self.made = 0

    def __call__(
        self, name, target, config, settings, path_map, hash_seed, cpus, worker_cpus
    ):  # the Side factory
        self.made += 1
        side = FakeSide(self.log, self.rates, self.clock, self.noise, self.pair_effect)
        side.name, side.key, side.windows, side.seed, side.cpus = name, config.key(), 0, hash_seed, cpus
        side.rng = random.Random(f"{name} {config.key()} {hash_seed}")  # seeded: the same run every time
        # a process pair's own steady difference, +x in one block and -x in the next: no bias overall
        side.offset = (
            self.pair_effect * (1 if (self.made - 1) // 2 % 2 else -1) if name == "candidate" else 0.0
        )
        return side

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.log.append(f"close {self.name}")

    def start(self):
        self.log.append(f"start {self.name} seed {self.seed} cpus {self.cpus}")

    def open(self):
        self.log.append(f"open {self.name}")

    def opened(self):
        self.log.append(f"opened {self.name}")

    def stop(self):
        self.log.append(f"stop {self.name}")

    def window(self, seconds):
        self.windows += 1
        self.log.append(f"{self.key} {self.name}")

    def rate(self):
        self.clock[0] += 0.5 if self.name == "base" else 0.0  # the two windows run at the same time
        wobble = math.exp(self.rng.gauss(0, self.noise) + self.offset)
        return self.rates[self.name] * wobble * (2.0 if self.windows == 1 else 1.0)


def run_duel(
    rates: dict[str, float],
    configs: list[LoaderConfig],
    max_time: float = 200.0,
    noise: float = 0.01,
    pair_effect: float = 0.0,
):
    log: list[str] = []
    clock = [0.0]
    duels = duel(
        "A", "B", configs, MeasureSettings(),
        test=lambda: SequentialTest(0.05, 0.05), max_time=max_time,
        side=FakeSide(log, rates, clock, noise, pair_effect), clock=lambda: clock[0],
    )  # fmt: skip
    return duels, log


def test_side_by_side_windows_run_together_in_fresh_process_pairs() -> None:
    configs = [LoaderConfig(batch_size=64, num_workers=0), LoaderConfig(batch_size=64, num_workers=2)]
    duels, log = run_duel({"base": 100.0, "candidate": 80.0}, configs)
    k0, k1 = (c.key() for c in configs)
    w0 = [line.split()[1] for line in log if line.startswith(k0 + " ")]
    assert w0[:6] == ["base", "candidate", "candidate", "base", "base", "candidate"]  # who starts alternates
    assert w0[2 * BLOCK_PAIRS] == "candidate"  # the next process pair starts with the other side
    w1 = [line.split()[1] for line in log if line.startswith(k1 + " ")]
    assert w1[0] == "candidate"  # and so does the next configuration
    # every block boots both interpreters together, then builds both loaders together, then closes both
    starts = [i for i, line in enumerate(log) if line.startswith("start")]
    assert len(starts) == 2 * sum(len(d.blocks) for d in duels)
    assert [line.split()[0] for line in log[starts[0] : starts[0] + 6]] == [
        "start",
        "start",
        "open",
        "open",
        "opened",
        "opened",
    ]
    seeds = [line.split()[3] for line in log if line.startswith("start")]
    assert seeds[0] == seeds[1] and seeds[2] == seeds[3]  # the two sides of a block share a hash seed
    assert len(set(seeds)) > 1  # ...which changes from block to block
    cpus = {line.split("cpus ")[1] for line in log if line.startswith("start")}
    assert "None" in cpus and len(cpus) > 1  # no workers: both sides on one core; with workers: all cores
    for d in duels:
        assert d.look is not None and d.look.decision == REGRESSION  # decided, before the time ran out
        assert d.seconds < d.budget_s
        assert max(d.base) < 110 and max(d.candidate) < 90  # the cold first windows were dropped
        assert all(math.isclose(x, math.log(0.8), abs_tol=0.03) for x in d.blocks)
        assert d.rounds == len(d.blocks) * (BLOCK_PAIRS - 1)


def test_an_undecidable_duel_stops_at_its_budget_and_says_inconclusive() -> None:
    duels, _ = run_duel({"base": 100.0, "candidate": 100.0}, [LoaderConfig()], max_time=60.0, pair_effect=0.1)
    (d,) = duels  # process pairs +-10% apart: too noisy for the time, neither a pass nor a regression
    assert d.look is not None and d.look.decision is None and d.look.t >= 1
    assert d.seconds == pytest.approx(60.0, abs=10.0)
    v = sequential_verdict(
        d.config.key(), d.base, d.candidate, d.look, threshold=0.05, rounds=d.rounds, seconds=d.seconds
    )
    assert v.verdict == INCONCLUSIVE and "raise --max-time" in v.reason


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
        [*cmd, "--against", "HEAD", "--max-time", "60", "--junit", str(tmp_path / "j.xml"), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["verdict"] == "regression"
    assert "process pairs" in r.stderr and "regression" in r.stderr  # a log line per look, also in CI logs
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


def _live(epoch_batches: int, known: bool) -> tuple[dict, list[int]]:
    """A live side whose epochs of ``epoch_batches`` start with a 30 ms bubble; ``taken`` counts batches."""
    import time

    taken: list[int] = []

    def stream():
        while True:
            for k in range(1, epoch_batches + 1):
                time.sleep(0.03 if k == 1 else 0.001)
                taken.append(k)
                yield None, k

    live = {
        "stream": stream(),
        "count": lambda batch, k: 1,
        "cycle": 1,
        "buffered": 3,
        "epoch": epoch_batches if known else None,
        "to_device": None,
        "step_s": 0,
        "log": None,
    }
    return live, taken


def test_a_check_window_on_short_epochs_spans_whole_epochs() -> None:
    """Both sides of ``check --against`` are timed over whole short epochs, each with its start-up bubble,
    wherever the window starts: otherwise a window reads high or low by where in the epoch it fell."""
    from dltune.bench.paired import run_window

    live, taken = _live(8, known=True)
    rate = run_window(live, seconds=0.01, tail=0)
    timed = len(taken) - 3 - 1  # less the buffered batches and the one taken after the window
    assert timed == 8
    assert rate == pytest.approx(8 / (0.03 + 7 * 0.001), rel=0.5)
    live, taken = _live(8, known=False)  # an IterableDataset: no length, whole rounds only
    run_window(live, seconds=0.01, tail=0)
    assert len(taken) - 3 - 1 < 8
