"""Several ranks on a machine: each rank's shard, the node's figures, the node recommendation, the
torchrun-launched trials (2 ranks with gloo; two 'machines' meeting on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
import torch

from dltune.bench.prior import single_loader_choice
from dltune.engine.build import build_loader
from dltune.engine.sharding import for_rank
from dltune.model import LoaderConfig, MeasureSettings, Preflight, RankResult, ShardingMemory, SweepSpace
from dltune.node import node_figures
from dltune.recommend import recommend
from dltune.report.markdown import render
from dltune.store import save_run

from .repos import QUICK_CHECK, git
from .synthetic import run, trial

# ---------------------------------------------------------------- shards ---------------------------


class Squares(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 100

    def __getitem__(self, i: int) -> int:
        return i


def rank_indices(rank: int, world: int, epochs: int = 1, workers: int = 0) -> list[list[int]]:
    ds, cfg = for_rank(
        Squares(),
        LoaderConfig(batch_size=None, num_workers=workers),
        rank,
        world,
        iterable=False,
        file_sampler=False,
    )
    loader = build_loader(ds, cfg)
    return [[int(x) for x in loader] for _ in range(epochs)]


def test_each_rank_reads_a_disjoint_shard_and_the_ranks_cover_the_dataset() -> None:
    shards = [rank_indices(r, 2)[0] for r in range(2)]
    assert not set(shards[0]) & set(shards[1])
    assert set(shards[0]) | set(shards[1]) == set(range(100))
    assert len(shards[0]) == len(shards[1]) == 50


def test_every_epoch_is_shuffled_anew_set_epoch_is_called() -> None:
    first, second = rank_indices(0, 2, epochs=2)
    assert first != second  # a fresh permutation each epoch (so a rank's shard differs too)
    again = rank_indices(0, 2, epochs=2)
    assert again == [first, second]  # ...the same on every rank and run: seeded by the epoch


def test_an_iterable_dataset_is_split_by_rank_and_worker() -> None:
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(40))

    seen = []
    for r in range(2):
        ds, cfg = for_rank(
            Stream(), LoaderConfig(batch_size=None, num_workers=2), r, 2, iterable=True, file_sampler=False
        )
        seen += [int(x) for x in build_loader(ds, cfg)]
    assert sorted(seen) == list(range(40))


def test_a_dataset_that_shards_itself_is_asked_for_its_shard() -> None:
    class Own(Squares):
        def shard(self, rank: int, world: int) -> list[int]:
            return list(range(rank, 10, world))

    ds, cfg = for_rank(Own(), LoaderConfig(), 1, 2, iterable=False, file_sampler=False)
    assert ds == [1, 3, 5, 7, 9] and cfg.sampler is None


def test_the_files_own_sampler_is_kept() -> None:
    _, cfg = for_rank(Squares(), LoaderConfig(), 0, 2, iterable=False, file_sampler=True)
    assert cfg.sampler is None


def test_threads_per_worker_reach_the_workers() -> None:
    class Threads(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int) -> int:
            return torch.get_num_threads()

    loader = build_loader(Threads(), LoaderConfig(batch_size=None, num_workers=2, threads=2))
    assert {int(x) for x in loader} == {2}
    assert {int(x) for x in build_loader(Threads(), LoaderConfig(batch_size=None, num_workers=2))} == {1}


# ---------------------------------------------------------------- the node's figures ---------------


def ranked(rate: float, rank: int, node: int = 0) -> RankResult:
    m = trial(2, rate, bs=32).metrics
    return RankResult(rank=rank, local_rank=rank, node=node, host=f"h{node}", shard_len=500, metrics=m)


def test_a_synchronous_step_sees_ranks_times_the_slowest_rank() -> None:
    cfg = LoaderConfig(batch_size=32, num_workers=2, prefetch_factor=2)
    metrics, f = node_figures([ranked(1000, 0), ranked(800, 1)], cfg, nproc_per_node=2, usable_cores=4)
    assert metrics.samples_per_s == pytest.approx(1600)
    assert f.sum_samples_per_s == pytest.approx(1800)
    assert f.slowest_rank == 1 and f.straggler_spread == pytest.approx(0.2)
    assert f.processes == 6 and f.threads == 6 and f.oversubscription == pytest.approx(1.5)
    assert metrics.peak_pss_total == 2 * ranked(1, 0).metrics.peak_pss_total


def test_several_machines_the_slowest_node_is_named() -> None:
    cfg = LoaderConfig(batch_size=32)
    ranks = [ranked(1000, 0, 0), ranked(990, 1, 0), ranked(700, 2, 1), ranked(980, 3, 1)]
    metrics, f = node_figures(ranks, cfg, nproc_per_node=2, usable_cores=4)
    assert metrics.samples_per_s == pytest.approx(4 * 700)
    assert f.nnodes == 2 and f.slowest_node == 1
    assert [s.samples_per_s for s in f.sections] == pytest.approx([2 * 990, 2 * 700])


def test_the_recommendation_for_a_node_gives_the_torchrun_line_and_the_ranks() -> None:
    cfg = LoaderConfig(batch_size=64, num_workers=2, prefetch_factor=2, persistent_workers=True)
    metrics, f = node_figures([ranked(900, 0), ranked(1000, 1)], cfg, 2, 8)
    good = replace(trial(2, 1800), metrics=metrics, node=f, ranks=(ranked(900, 0), ranked(1000, 1)))
    r = run(good, trial(0, 500), trial(8, 700, persist=False, role="cores-rule"))
    r = replace(r, settings=MeasureSettings(nproc_per_node=2))
    rec = recommend(r)
    assert rec.node is not None and rec.chosen.key == good.key
    assert rec.node.torchrun == "OMP_NUM_THREADS=1 torchrun --nproc-per-node 2 train.py"
    assert rec.loader_config.sampler == "distributed"  # build_loader(dataset, rec) shards under torchrun
    assert "make_sampler('distributed'" in rec.code
    md = render(rec)
    assert "torchrun --nproc-per-node 2" in md and "0 (slowest)" in md and "every rank with" in md


def _node_run(**changes: object):
    cfg = LoaderConfig(batch_size=64, num_workers=2, prefetch_factor=2, persistent_workers=True)
    ranks = (ranked(900, 0), ranked(1000, 1))
    metrics, f = node_figures(list(ranks), cfg, 2, 8)
    good = replace(trial(2, 1800), metrics=metrics, node=f, ranks=ranks)
    return replace(run(good, trial(0, 500)), settings=MeasureSettings(nproc_per_node=2), **changes), good


def test_what_sharding_saves_is_reported_in_numbers() -> None:
    r, good = _node_run(preflight=Preflight(length=1000, shardable=True))
    r = replace(r, sharding=ShardingMemory(good.key, 400 << 20, 1000 << 20, 150 << 20, 450 << 20))
    rec = recommend(r)
    assert rec.node is not None and rec.node.sharding == r.sharding
    line = next(w for w in rec.node.why if w.startswith("sharding"))
    assert "400.0 MiB" in line and "1000.0 MiB" in line and "saves 600.0 MiB (60%)" in line
    assert "sharding: node memory" in render(rec)
    failed = replace(r.sharding, full_pss=0, full_main_pss=0, full_failed="memory: over the cap")
    line = next(w for w in recommend(replace(r, sharding=failed)).node.why if w.startswith("sharding"))
    assert "the trial failed (memory: over the cap)" in line


def test_without_shard_the_report_says_every_rank_holds_the_whole_dataset() -> None:
    r, _ = _node_run(preflight=Preflight(length=1000))
    rec = recommend(r)
    assert any(w.startswith("every rank holds the whole dataset") and "shard(rank, world_size)" in w
               for w in rec.node.why)  # fmt: skip
    r, _ = _node_run(preflight=Preflight(iterable=True))  # a stream is split by rank: nothing to say
    assert not any("whole dataset" in w for w in recommend(r).node.why)


def test_an_earlier_single_loader_run_of_the_file_is_found(tmp_path: Path) -> None:
    target = str(tmp_path / "ds.py")
    single = replace(run(trial(4, 900, bs=128), trial(0, 300, bs=128)), target=target, fingerprint="v1")

    def save(r, name: str) -> None:
        (tmp_path / name).mkdir()
        save_run(r, tmp_path / name)

    save(single, "20261101-000000-ds")
    # newer, but not what a user tuned for one loader of this file as it is now: skipped
    save(replace(single, settings=MeasureSettings(nproc_per_node=2)), "20261102-000000-ds")
    save(replace(single, target=str(tmp_path / "other.py")), "20261103-000000-other")
    save(replace(single, fingerprint="v2"), "20261104-000000-ds")
    save(replace(single, complete=False), "20261105-000000-ds")
    (tmp_path / "20261106-000000-ds").mkdir()
    (tmp_path / "20261106-000000-ds" / "run.json").write_text("{ damaged")
    cfg = single_loader_choice(tmp_path, target, "v1", SweepSpace(batch_size=(64,)))
    assert cfg is not None and cfg.num_workers == 4 and cfg.batch_size == 64  # this run's fixed batch size
    assert single_loader_choice(tmp_path, target, "v1", SweepSpace(batch_size=(64, 128))).batch_size == 128
    assert single_loader_choice(tmp_path, target, "v3", SweepSpace()) is None


def test_the_node_plan_is_compared_with_the_single_loader_recommendation_on_every_rank() -> None:
    single = trial(8, 1200, role="single-loader")
    r, _ = _node_run(single_loader=single.key)
    r = replace(r, trials=(*r.trials, single))
    rec = recommend(r)
    assert rec.node.single_loader is not None and rec.node.single_loader.key == single.key
    assert rec.node.speedup_vs_single_loader == pytest.approx(rec.chosen.rate / 1200, rel=0.01)
    line = next(w for w in rec.node.why if "recommendation for one loader" in w)
    assert single.key in line and "1,200 samples/s" in line and "1.50x" in line


def test_the_full_index_ignores_the_datasets_shard() -> None:
    class Own(Squares):
        def shard(self, rank: int, world: int) -> list[int]:
            return list(range(rank, 10, world))

    ds, cfg = for_rank(Own(), LoaderConfig(), 1, 2, iterable=False, file_sampler=False, use_shard=False)
    assert isinstance(ds, Own) and cfg.sampler == "distributed"


def test_a_run_of_one_loader_has_no_node_section() -> None:
    assert recommend(run(trial(2, 1800), trial(0, 500))).node is None


# ---------------------------------------------------------------- measured with torchrun -----------

DATASET = """
import os, time, torch

class Work(torch.utils.data.Dataset):
    def __len__(self):
        return 600

    def __getitem__(self, i):
        bad = os.environ.get("DLTUNE_TEST_BAD_RANK")
        if bad is not None and bad == os.environ.get("RANK"):
            if os.environ.get("DLTUNE_TEST_MODE") == "hang":
                time.sleep(3600)
            raise ValueError(f"sample {i} is broken on this rank")
        acc = 0
        for k in range(200):
            acc += k
        return torch.full((8,), float(i))

dataset = Work()
"""


def bench(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dltune", "bench", "ds.py", "--batch-size", "32", "--prefetch", "2",
         "--out", str(folder / "runs"), "--json", *args],
        capture_output=True, text=True, cwd=folder, timeout=500, env={**os.environ, **(env or {})},
    )  # fmt: skip


def leftovers(marker: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["environ"]):
        try:
            if (p.info["environ"] or {}).get("DLTUNE_TEST_MARKER") == marker:
                found.append(p)
        except psutil.Error:
            pass
    return found


@pytest.mark.slow
def test_two_ranks_measured_together_per_rank_and_node_figures_saved(tmp_path: Path) -> None:
    (tmp_path / "ds.py").write_text(DATASET)
    r = bench(tmp_path, "--nproc-per-node", "2", "--workers", "0,1", "--timeout", "40")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["settings"]["nproc_per_node"] == 2
    ok = [t for t in out["trials"] if t["status"] == "ok"]
    assert ok, out["trials"]
    for t in ok:
        assert sorted(x["rank"] for x in t["ranks"]) == [0, 1]
        assert sum(x["shard_len"] for x in t["ranks"]) == 600
        slowest = min(x["metrics"]["samples_per_s"] for x in t["ranks"])
        assert t["metrics"]["samples_per_s"] == pytest.approx(2 * slowest)
        assert t["node"]["processes"] == 2 * (1 + t["config"]["num_workers"])
    rec = subprocess.run(
        [sys.executable, "-m", "dltune", "recommend", "--run", str(next((tmp_path / "runs").iterdir()))],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert rec.returncode == 0, rec.stderr
    assert "torchrun --nproc-per-node 2" in rec.stdout


@pytest.mark.slow
def test_tune_with_ranks_uses_the_model_and_recommends_for_the_node(tmp_path: Path) -> None:
    (tmp_path / "ds.py").write_text(DATASET)
    runs = tmp_path / "runs"
    r = subprocess.run(
        [sys.executable, "-m", "dltune", "tune", "ds.py", "--nproc-per-node", "2", "--workers", "0,1,2,3",
         "--batch-size", "16,32", "--prefetch", "2", "--out", str(runs)],
        capture_output=True, text=True, cwd=tmp_path, timeout=500,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "torchrun --nproc-per-node 2" in r.stdout
    run = json.loads((next(runs.iterdir()) / "run.json").read_text())
    stages = [s["stage"] for s in run["search"]["stages"]]
    assert stages[0] == "calibrate", stages  # the model's path, not the whole grid
    ok = [t for t in run["trials"] if t["status"] == "ok"]
    assert ok and all(sorted(x["rank"] for x in t["ranks"]) == [0, 1] for t in ok)


SHARDED = """
import torch

class Big(torch.utils.data.Dataset):
    # 256 MiB of rows in all; a shard holds only its part
    def __init__(self, rank=0, world=1):
        self.rows = torch.ones(64 // world, 1 << 20)
        self.n = 600 // world

    def shard(self, rank, world):
        return Big(rank, world)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.rows[i % len(self.rows), :8].clone()

dataset = Big  # built when the file is loaded: the full rows go when the rank takes its shard
"""


@pytest.mark.slow
def test_what_sharding_saves_is_measured_against_the_full_index_on_every_rank(tmp_path: Path) -> None:
    (tmp_path / "ds.py").write_text(SHARDED)
    r = bench(tmp_path, "--nproc-per-node", "2", "--workers", "0", "--timeout", "60")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["preflight"]["shardable"] is True
    sm = out["sharding"]
    assert sm["full_failed"] is None
    # 2 ranks x 128 MiB of rows saved (the full rows are 256 MiB on each rank, a shard's 128 MiB)
    assert sm["full_pss"] - sm["sharded_pss"] > 180 << 20, sm
    assert sm["full_main_pss"] - sm["sharded_main_pss"] > 90 << 20, sm
    assert all(t["role"] != "full-index" for t in out["trials"])  # not a candidate
    stages = {s["stage"]: s for s in out["search"]["stages"]}
    assert stages["sharding memory"]["trials"] == 2 and stages["sharding memory"]["seconds"] > 0, stages
    rec = subprocess.run(
        [sys.executable, "-m", "dltune", "recommend", "--run", str(next((tmp_path / "runs").iterdir()))],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert rec.returncode == 0, rec.stderr
    assert "sharding: node memory" in rec.stdout and "saves" in rec.stdout


@pytest.mark.slow
def test_a_baseline_saved_with_ranks_is_checked_with_ranks(tmp_path: Path) -> None:
    (tmp_path / "ds.py").write_text(DATASET)

    def dltune(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dltune", *args], capture_output=True, text=True,
                              cwd=tmp_path, timeout=300)  # fmt: skip

    saved = dltune("baseline", "save", "ds.py", "--nproc-per-node", "2", "--rounds", "2", "-o", "b.json")
    assert saved.returncode == 0, saved.stderr
    base = json.loads((tmp_path / "b.json").read_text())
    assert base["settings"]["nproc_per_node"] == 2 and all(len(e["samples"]) == 2 for e in base["configs"])
    checked = dltune("check", "ds.py", "--baseline", "b.json", "--json")
    assert checked.returncode == 0, checked.stderr  # nothing changed: no regression
    result = json.loads(checked.stdout)
    assert any("2 ranks at once" in n for n in result["notes"]), result


def check_repo(tmp_path: Path) -> Path:
    """A git repository holding DATASET, committed, and the one-configuration check settings."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "ds.py").write_text(DATASET)
    (tmp_path / "ci.toml").write_text(QUICK_CHECK)
    git(repo, "init", "-q", ".")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "v1")
    return repo


def check_against(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dltune", "check", "ds.py", "--against", "HEAD", "--nproc-per-node", "2",
         "--config", str(tmp_path / "ci.toml"), *args],
        capture_output=True, text=True, cwd=tmp_path / "repo", timeout=400, env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.mark.slow
def test_check_against_with_ranks_catches_a_straggler_rank(tmp_path: Path) -> None:
    """The working tree slows rank 1 only: the node (2 x its slowest rank) got slower, and the check,
    measuring both sides as 2-rank nodes side by side, fails the build."""
    repo = check_repo(tmp_path)
    slow = "        if os.environ.get('RANK') == '1':\n            time.sleep(0.001)\n"
    text = DATASET.replace("        acc = 0\n", slow + "        acc = 0\n")
    assert text != DATASET
    (repo / "ds.py").write_text(text)
    r = check_against(tmp_path, "--max-time", "200", "--json")
    assert r.returncode == 1, r.stderr
    result = json.loads(r.stdout)
    assert result["verdict"] == "regression", result
    assert any("2 ranks at once" in n for n in result["notes"]), result
    assert "process pairs" in r.stderr


@pytest.mark.slow
def test_check_against_with_ranks_names_the_rank_that_fails_and_leaves_nothing(tmp_path: Path) -> None:
    check_repo(tmp_path)
    marker = f"check-{time.time()}"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"DLTUNE_TEST_BAD_RANK": "1", "DLTUNE_TEST_MARKER": marker, "TMPDIR": str(tmp)}
    r = check_against(tmp_path, "--max-time", "60", env=env)
    assert r.returncode == 3, r.stderr
    assert "rank 1" in r.stderr and "broken on this rank" in r.stderr and "Traceback" not in r.stderr
    time.sleep(1)
    assert not leftovers(marker)
    assert not list(tmp.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["raise", "hang"])
def test_a_rank_that_fails_or_hangs_is_a_failed_trial_naming_it_and_nothing_is_left(
    tmp_path: Path, mode: str
) -> None:
    (tmp_path / "ds.py").write_text(DATASET)
    marker = f"{mode}-{time.time()}"
    tmp = tmp_path / "tmp"  # dltune's temporary files, and torch's and multiprocessing's, land here
    tmp.mkdir()
    env = {
        "DLTUNE_TEST_BAD_RANK": "1",
        "DLTUNE_TEST_MODE": mode,
        "DLTUNE_TEST_MARKER": marker,
        "TMPDIR": str(tmp),
    }
    r = bench(tmp_path, "--nproc-per-node", "2", "--workers", "0", "--timeout", "10", env=env)
    assert r.returncode == 0, r.stderr  # the sweep goes on; the trials are saved as failed
    trials = json.loads(r.stdout)["trials"]
    assert trials and all(t["status"] != "ok" for t in trials)
    reason = trials[0]["reason"]
    assert "rank 1" in reason and "rank 0" not in reason, reason
    if mode == "hang":
        assert trials[0]["status"] == "timeout"
    else:
        assert "broken on this rank" in reason
    time.sleep(1)
    assert not leftovers(marker)
    assert not list(tmp.iterdir())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_machines_meeting_on_localhost_write_one_run_with_a_section_per_node(tmp_path: Path) -> None:
    (tmp_path / "ds.py").write_text(DATASET)
    args = ["--nnodes", "2", "--nproc-per-node", "1", "--workers", "0", "--timeout", "40",
            "--rdzv-endpoint", f"127.0.0.1:{free_port()}", "--rdzv-id", "test-two-nodes"]  # fmt: skip
    cmd = [sys.executable, "-m", "dltune", "bench", "ds.py", "--batch-size", "32", "--json"]
    procs = [
        subprocess.Popen(
            [*cmd, *args, "--out", str(tmp_path / f"node{i}")],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    outs = [p.communicate(timeout=400) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    runs = [json.loads(o) for o, _ in outs]
    for out in runs:
        ok = [t for t in out["trials"] if t["status"] == "ok"]
        assert ok, out["trials"]
        sections = ok[0]["node"]["sections"]
        assert [s["node"] for s in sections] == [0, 1]
        assert sorted(x["rank"] for x in ok[0]["ranks"]) == [0, 1]
    # both machines hold the same gathered figures
    assert runs[0]["trials"][0]["metrics"] == runs[1]["trials"][0]["metrics"]


def test_bad_rank_flags_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "ds.py").write_text(DATASET)
    for args, words in (
        (["--nproc-per-node", "0"], "--nproc-per-node"),
        (["--nproc-per-node", "two"], "--nproc-per-node"),
        (["--nnodes", "2"], "--rdzv-endpoint"),
        (["--nnodes", "2", "--rdzv-endpoint", "nohost"], "rdzv"),
        (["--threads", "0"], "--threads"),
    ):
        r = bench(tmp_path, *args)
        assert r.returncode == 2, (args, r.stderr)
        assert words in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    r = subprocess.run(
        [sys.executable, "-m", "dltune", "recommend", "--nproc-per-node", "2", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2 and "needs the DATASET" in r.stderr, r.stderr
