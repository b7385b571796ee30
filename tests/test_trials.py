"""Every failure kind is provoked by a test dataset and recorded with the right reason; sweeps carry on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dltune.bench.runner import resume_inputs, run_bench
from dltune.bench.trial import run_trial
from dltune.errors import DatasetFileError
from dltune.hardware.facts import probe
from dltune.model import FAILED, KILLED, MEMORY, OK, REJECTED, SHM, TIMEOUT, SweepSpace, TrialResult
from dltune.model.loader import LoaderConfig
from dltune.model.settings import MeasureSettings
from dltune.store import load_run

pytestmark = pytest.mark.slow

FAST = MeasureSettings(min_batches=4, min_seconds=0.1, max_seconds=2, segments=2, timeout_s=20)

HEAD = """
import os, signal, time
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

class D(Dataset):
    def __len__(self):
        return 64
    def __getitem__(self, i):
        BODY
        return torch.full((4,), float(i))

dataset = D()
"""


def dataset_file(write_file, name: str, body: str) -> str:
    return str(write_file(name, HEAD.replace("BODY", body)))


def test_a_good_trial_measures(write_file) -> None:
    target = dataset_file(write_file, "ds_good", "pass")
    r = run_trial(target, LoaderConfig(batch_size=8, num_workers=2), FAST)
    assert r.status == OK and r.metrics is not None
    m = r.metrics
    assert m.samples_per_s > 0 and m.samples_per_s_low <= m.samples_per_s <= m.samples_per_s_high
    assert m.batch_bytes == 8 * 4 * 4 and m.batches >= 4 and m.start_method == "fork"
    assert m.peak_pss_main > 0 and len(r.raw.wait_s) == m.batches


def test_exception_names_the_sample_and_keeps_the_traceback(write_file) -> None:
    target = dataset_file(write_file, "ds_raises", "if i == 37: raise ValueError('corrupt record 37')")
    for workers in (0, 2):
        r = run_trial(target, LoaderConfig(batch_size=8, num_workers=workers), FAST)
        assert r.status == FAILED
        assert "ValueError at sample index 37" in (r.reason or "")
        assert "corrupt record 37" in (r.hint or "") and "ds_raises.py" in (r.hint or "")
        assert ("in worker" in (r.reason or "")) == (workers > 0)


def test_worker_killed_by_the_oom_killer(write_file) -> None:
    target = dataset_file(
        write_file, "ds_sigkill", "if get_worker_info() and i == 9: os.kill(os.getpid(), signal.SIGKILL)"
    )
    r = run_trial(target, LoaderConfig(batch_size=8, num_workers=2), FAST)
    assert (
        r.status == MEMORY
        and "out-of-memory killer" in (r.reason or "")
        and "exited unexpectedly" in (r.reason or "")
    )


def test_worker_segfault(write_file) -> None:
    target = dataset_file(
        write_file, "ds_segv", "if get_worker_info() and i == 9: os.kill(os.getpid(), signal.SIGSEGV)"
    )
    r = run_trial(target, LoaderConfig(batch_size=8, num_workers=2), FAST)
    assert r.status == KILLED and "Segmentation fault" in (r.reason or "")


def test_sigbus_means_shared_memory(write_file) -> None:
    target = dataset_file(
        write_file, "ds_sigbus", "if get_worker_info() and i == 9: os.kill(os.getpid(), signal.SIGBUS)"
    )
    r = run_trial(
        target, LoaderConfig(batch_size=8, num_workers=2), FAST, shm_needed=3 << 30, shm_free=1 << 30
    )
    assert r.status == SHM
    assert "/dev/shm" in (r.reason or "") and "3.0 GiB" in (r.reason or "") and "--shm-size" in (r.hint or "")


MANY_TENSORS = """
class D(Dataset):
    def __len__(self):
        return 4096
    def __getitem__(self, i):
        return [torch.full((2,), float(i)) for _ in range(4)]

def collate_fn(batch):
    return [t for sample in batch for t in sample]  # a list of tensors: one open file each in flight

dataset = D()
"""

OPEN_FILES = (
    """
import resource
import torch
from torch.utils.data import Dataset

SOFT, HARD = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (160, HARD))  # the main process's limit; workers get theirs back


def worker_init_fn(worker_id):
    resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT, HARD))
"""
    + MANY_TENSORS
)


def test_running_out_of_open_files_is_named_with_the_fix(write_file) -> None:
    """Batches of many tensors pass one file descriptor per tensor: past ``ulimit -n`` torch reports only
    "received 0 items of ancdata"; the trial names the limit and the fixes."""
    target = str(write_file("ds_fds", OPEN_FILES))
    cfg = LoaderConfig(batch_size=32, num_workers=4, prefetch_factor=4)  # 16 batches x 128 tensors
    r = run_trial(target, cfg, FAST)
    assert r.status == FAILED, (r.status, r.reason)
    assert "open files" in (r.reason or "") and "ulimit -n" in (r.hint or "")
    assert "file_system" in (r.hint or "")


WORKER_OPEN_FILES = (
    """
import resource
import torch
from torch.utils.data import Dataset


def worker_init_fn(worker_id):  # 128 tensors a batch: more files than a worker may open
    resource.setrlimit(resource.RLIMIT_NOFILE, (48, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
"""
    + MANY_TENSORS
)


def test_a_loader_hung_by_workers_out_of_open_files_is_named_with_the_fix(write_file) -> None:
    """A worker that cannot open a file for a tensor it sends loses that batch and the loader waits for it
    forever: the trial is stopped at its timeout, and what the workers printed names the cause."""
    target = str(write_file("ds_worker_fds", WORKER_OPEN_FILES))
    settings = MeasureSettings(min_batches=50, min_seconds=0.1, segments=2, timeout_s=6)
    r = run_trial(target, LoaderConfig(batch_size=32, num_workers=2), settings)
    assert r.status == TIMEOUT, (r.status, r.reason)
    assert "ran out of open files" in (r.reason or "") and "ulimit -n" in (r.hint or "")


def test_hang_is_stopped_at_the_limit(write_file) -> None:
    target = dataset_file(write_file, "ds_hang", "if i == 20: time.sleep(3600)")
    settings = MeasureSettings(min_batches=50, min_seconds=0.1, segments=2, timeout_s=4)
    r = run_trial(target, LoaderConfig(batch_size=8, num_workers=2), settings)
    assert r.status == TIMEOUT and "no result after 4 s" in (r.reason or "")
    assert r.duration_s < 15


def test_memory_watchdog_stops_a_runaway_trial(write_file) -> None:
    body = "globals().setdefault('hog', []).append(bytearray(40 << 20)); time.sleep(0.01)"
    target = dataset_file(write_file, "ds_hog", body)
    settings = MeasureSettings(
        min_batches=100, min_seconds=30, segments=2, timeout_s=60, memory_limit=600 << 20
    )
    r = run_trial(target, LoaderConfig(batch_size=4), settings)
    assert (
        r.status == MEMORY and "memory watchdog" in (r.reason or "") and "limit 600.0 MiB" in (r.reason or "")
    )


def test_rejected_configuration(write_file) -> None:
    target = str(
        write_file(
            "ds_stream",
            """
import torch
from torch.utils.data import IterableDataset
class S(IterableDataset):
    def __iter__(self):
        return iter(torch.arange(10.0))
dataset = S()
""",
        )
    )
    r = run_trial(target, LoaderConfig(batch_size=2, sampler="random"), FAST)
    assert r.status == REJECTED and "IterableDataset takes no sampler" in (r.reason or "")


def test_sweep_carries_on_after_failures_and_saves_each_trial(write_file, tmp_path: Path) -> None:
    target = dataset_file(
        write_file, "ds_workers_fail", "if get_worker_info(): raise RuntimeError('no network in workers')"
    )
    events = []
    run, folder = run_bench(
        target,
        SweepSpace(workers=(0, 2), batch_size=(8,), references=False),
        FAST,
        probe(h2d=False),
        out_root=tmp_path,
        on_event=events.append,
    )
    statuses = {t.key: t.status for t in run.trials}
    assert statuses == {"w0-b8-off": OK, "w2-b8-pf2-off-persist": FAILED, "w2-b8-pf4-off-persist": FAILED}
    saved = load_run(folder)
    assert saved.complete and len(saved.trials) == 3 and saved.preflight and saved.preflight.length == 64
    assert [e.kind for e in events].count("trial_done") == 3
    assert (folder / "trials.csv").read_text().count("\n") == 4
    assert json.loads((folder / "run.json").read_text())["schema_version"] == 2


def test_broken_dataset_stops_before_the_sweep(write_file, tmp_path: Path) -> None:
    target = str(
        write_file("ds_broken_import", "import torch\nraise RuntimeError('bucket credentials missing')\n")
    )
    with pytest.raises(DatasetFileError, match="bucket credentials missing"):
        run_bench(
            target, SweepSpace(workers=(0,), batch_size=(8,)), FAST, probe(h2d=False), out_root=tmp_path
        )


def test_interrupt_keeps_finished_trials_and_resume_finishes(write_file, tmp_path: Path) -> None:
    target = dataset_file(write_file, "ds_resume", "pass")
    calls = []

    def flaky(target, config, settings, **kw) -> TrialResult:
        calls.append(config.key())
        if len(calls) == 3:
            raise KeyboardInterrupt
        return run_trial(target, config, settings, **kw)

    space = SweepSpace(workers=(0, 1, 2), batch_size=(8,), prefetch_factor=(2,), references=False)
    folders = []
    with pytest.raises(KeyboardInterrupt):
        run_bench(
            target,
            space,
            FAST,
            probe(h2d=False),
            out_root=tmp_path,
            trial_runner=flaky,
            on_event=lambda e: folders.append(e.folder),
        )
    folder = folders[0]
    partial = load_run(folder)
    assert len(partial.trials) == 2 and not partial.complete
    space2, settings2, hw = resume_inputs(partial)
    run, _ = run_bench(target, space2, settings2, hw, out_root=tmp_path, resume=partial, resume_dir=folder)
    swept = [t.key for t in run.trials if t.role != "race"]  # close ones may be raced after the grid
    assert run.complete and sorted(swept) == sorted(
        ["w0-b8-off", "w1-b8-pf2-off-persist", "w2-b8-pf2-off-persist"]
    )


def test_one_interpreter_runs_many_trials_and_is_replaced_after_a_failure(write_file, tmp_path: Path) -> None:
    from dltune.bench.child import WatchedProcess

    imports = tmp_path / "imports.txt"
    good = str(
        write_file("ds_session", HEAD.replace("BODY", "pass") + f"open({str(imports)!r}, 'a').write('x')\n")
    )
    raising = dataset_file(write_file, "ds_session_raises", "if i == 5: raise ValueError('bad record')")
    hangs = dataset_file(write_file, "ds_session_hangs", "time.sleep(60)")
    short = MeasureSettings(min_batches=4, min_seconds=0.1, max_seconds=2, segments=2, timeout_s=4)
    with WatchedProcess() as process:
        first = run_trial(good, LoaderConfig(batch_size=8, num_workers=2), FAST, process=process)
        second = run_trial(good, LoaderConfig(batch_size=8), FAST, process=process)
        assert first.status == OK and second.status == OK and process.started == 1
        # the dataset file runs again for each trial: no state carried from one configuration to the next
        assert imports.read_text() == "xx"
        assert run_trial(raising, LoaderConfig(batch_size=8), FAST, process=process).status == FAILED
        after = run_trial(good, LoaderConfig(batch_size=8, num_workers=2), FAST, process=process)
        assert after.status == OK and process.started == 2  # a fresh interpreter after the failure
        assert run_trial(hangs, LoaderConfig(batch_size=8), short, process=process).status == TIMEOUT
        last = run_trial(good, LoaderConfig(batch_size=8), FAST, process=process)
        assert last.status == OK and process.started == 3


def test_a_script_without_a_main_guard_can_run_trials(write_file, tmp_path: Path) -> None:
    import subprocess
    import sys

    target = dataset_file(write_file, "ds_noguard", "pass")
    script = tmp_path / "noguard.py"
    script.write_text(
        "from dltune.model.settings import MeasureSettings\n"
        "from dltune.bench.trial import run_trial\n"
        "from dltune.engine.config import LoaderConfig\n"
        "print('script ran')\n"
        f"t = run_trial({target!r}, LoaderConfig(batch_size=8), MeasureSettings(min_seconds=0.1, timeout_s=20))\n"
        "print(t.status)\n"
    )
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["script", "ran", "ok"]  # the trial's child did not run the script again


def test_segments_left_by_the_dead_processes_of_a_failed_trial_are_removed(tmp_path: Path) -> None:
    """A worker killed between creating a shared-memory segment and handing it over leaves it in /dev/shm,
    holding RAM: after a failed trial dltune removes those its processes named, and only theirs."""
    import os
    import subprocess

    from dltune.bench.child import remove_orphan_segments

    done = subprocess.Popen(["true"])
    done.wait()
    dead, alive = done.pid, os.getpid()
    for name in (f"torch_{dead}_1_0", f"torch_{dead}_7_3", f"torch_{alive}_1_0", f"torch_{dead}0_1", "other"):
        (tmp_path / name).write_bytes(b"x")
    removed = remove_orphan_segments({dead, alive}, root=str(tmp_path))
    assert sorted(Path(p).name for p in removed) == [f"torch_{dead}_1_0", f"torch_{dead}_7_3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"torch_{alive}_1_0", f"torch_{dead}0_1", "other"]
    )


def test_memory_readings_take_little_of_the_cpu_the_loader_needs() -> None:
    """Reading the PSS of a loader with many workers costs real CPU (0.13 s for 17 processes): the watcher
    spaces its readings so that they take at most 2% of a core, never more often than asked."""
    from dltune.bench.child import PSS_SHARE, pss_interval

    assert pss_interval(0.001, 1.0) == 1.0  # cheap: every second, as asked
    assert pss_interval(0.13, 1.0) == pytest.approx(0.13 / PSS_SHARE)  # 6.5 s apart
    assert 0.13 / pss_interval(0.13, 1.0) <= 0.02


SHARDED = """
import torch
from torch.utils.data import IterableDataset, get_worker_info

class Shards(IterableDataset):
    def __iter__(self):
        info = get_worker_info()
        mine = range(2)[info.id :: info.num_workers] if info else range(2)  # 2 shards among the workers
        for shard in mine:
            for i in range(64):
                yield torch.full((4,), float(shard * 64 + i))

dataset = Shards()
"""


def test_a_trial_counts_the_workers_the_dataset_feeds(write_file) -> None:
    # 2 shards among 3 workers: the third makes no batch; a map-style dataset feeds every worker
    sharded = str(write_file("ds_sharded", SHARDED))
    r = run_trial(sharded, LoaderConfig(batch_size=8, num_workers=3, persistent_workers=True), FAST)
    assert r.status == OK and r.metrics is not None and r.metrics.fed_workers == 2, r
    every = run_trial(
        dataset_file(write_file, "ds_fed", "pass"), LoaderConfig(batch_size=8, num_workers=3), FAST
    )
    assert every.metrics is not None and every.metrics.fed_workers == 3
    main = run_trial(sharded, LoaderConfig(batch_size=8, num_workers=0), FAST)
    assert main.metrics is not None and main.metrics.fed_workers is None
