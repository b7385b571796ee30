"""Nothing dltune starts outlives it: trial processes, their DataLoader workers, worktrees, folders.

Checked by listing processes, /dev/shm and dltune's temporary folders before and after.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from .helpers import EXAMPLES, ROOT, Snapshot, dltune, nothing_left, one_error_line

SLOW = """
import time
import torch
from torch.utils.data import Dataset

class Slow(Dataset):
    def __len__(self):
        return 100_000
    def __getitem__(self, i):
        time.sleep(0.01)
        return torch.zeros(4)

dataset = Slow()
"""

KILLS_ITS_TRIAL = """
import os, signal, time
from pathlib import Path
import torch
from torch.utils.data import Dataset, get_worker_info

PIDS = Path(__file__).with_name("worker_pids.txt")

class KillsParent(Dataset):
    def __len__(self):
        return 10_000
    def __getitem__(self, i):
        if get_worker_info() is not None and i >= 8:
            with PIDS.open("a") as f:
                f.write(f"{os.getpid()}\\n")
            os.kill(os.getppid(), signal.SIGKILL)  # the trial process dies (as under the OOM killer)
            time.sleep(120)  # ...while this worker is busy in user code
        return torch.zeros(2)

dataset = KillsParent()
"""


def _terminate_once_running(
    proc: subprocess.Popen[str], running: Callable[[list[psutil.Process]], bool]
) -> str:
    """Wait until ``running`` says a trial with workers is up, send SIGTERM, and check every process of the
    family is gone after; returns stderr."""
    family: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        kids = psutil.Process(proc.pid).children(recursive=True)
        family |= {k.pid for k in kids}
        if running(kids):
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("no trial with workers started")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    time.sleep(1)
    assert not [p for p in family if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"], err[
        -2000:
    ]
    return err


@pytest.mark.slow
def test_sigterm_stops_the_trial_and_its_workers_and_keeps_the_results(tmp_path: Path) -> None:
    (tmp_path / "slow_ds.py").write_text(SLOW)
    before = Snapshot.take()
    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dltune", "bench", str(tmp_path / "slow_ds.py"), "-c", "quick",
         "-w", "0,2", "-b", "4", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    err = _terminate_once_running(proc, lambda kids: len(kids) >= 3 and bool(list(out.glob("*/run.json"))))
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "Traceback" not in err and "finished trials are saved" in err
    assert json.loads(next(out.glob("*/run.json")).read_text())["kind"] == "dltune.run"
    nothing_left(before)


BENCHMARK_LOOP = """
import sys
sys.path.insert(0, sys.argv[1])
import _common  # noqa: F401  (what every benchmark script imports first)
from dltune.bench.child import WatchedProcess
from dltune.bench.space import load_space
from dltune.bench.trial import run_trial
from dltune.model import LoaderConfig

_, settings = load_space("quick")
with WatchedProcess() as process:
    while True:
        run_trial(sys.argv[2], LoaderConfig(num_workers=2, batch_size=4, persistent_workers=True), settings,
                  process=process)
"""


@pytest.mark.slow
def test_a_benchmark_script_stopped_by_sigterm_leaves_no_trial_or_workers(tmp_path: Path) -> None:
    (tmp_path / "slow_ds.py").write_text(SLOW)
    (tmp_path / "loop.py").write_text(BENCHMARK_LOOP)
    before = Snapshot.take()
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "loop.py"), str(ROOT / "benchmarks"), str(tmp_path / "slow_ds.py")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    err = _terminate_once_running(proc, lambda kids: any(len(k.children()) >= 2 for k in kids))
    assert "Stopped by SIGTERM" in err and "Traceback" not in err, err[-2000:]
    nothing_left(before)


@pytest.mark.slow
def test_workers_of_a_trial_process_that_died_are_killed(tmp_path: Path) -> None:
    (tmp_path / "kills_ds.py").write_text(KILLS_ITS_TRIAL)
    before = Snapshot.take()
    r = dltune(
        "bench", str(tmp_path / "kills_ds.py"), "-c", "quick", "-w", "1", "-b", "2",
        "--timeout", "30", "--out", str(tmp_path / "runs"), "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    run = json.loads(r.stdout)
    died = [t for t in run["trials"] if t["config"]["num_workers"] == 1]
    # SIGKILL from outside reads as the kernel OOM killer would: either way a failed trial, with a reason
    assert died and all(t["status"] in ("killed", "memory") for t in died), [
        (t["key"], t["status"]) for t in died
    ]
    pids = [int(p) for p in (tmp_path / "worker_pids.txt").read_text().split()]
    time.sleep(1)
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    nothing_left(before)


def test_a_refused_against_leaves_no_worktree_or_folder() -> None:
    before = Snapshot.take()
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True).stdout
    for ref in ("--lock", "no-such-branch-xyz", "HEAD~100000"):
        r = dltune("check", str(EXAMPLES / "text.py"), f"--against={ref}")
        assert r.returncode == 2, r.stderr
        one_error_line(r)
    after = subprocess.run(["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True).stdout
    assert after == worktrees and "locked" not in after
    nothing_left(before)


def test_a_run_folder_being_written_is_not_written_by_a_second_dltune(tmp_path: Path) -> None:
    import shutil

    from dltune.store import locked

    folder = tmp_path / "run"
    shutil.copytree(Path(__file__).parents[1] / "data/v1/bench", folder)
    data = json.loads((folder / "run.json").read_text())
    data["target"] = str(EXAMPLES / "text.py")
    (folder / "run.json").write_text(json.dumps(data))
    with locked(folder):
        r = dltune("bench", str(EXAMPLES / "text.py"), "--resume", str(folder))
    assert r.returncode == 2 and "another dltune is writing into" in one_error_line(r)
    assert not (folder / ".lock").exists() or os.path.getsize(folder / ".lock") == 0
