"""Adaptive tuning on known throughput surfaces (a fake trial runner), and the stage-cost model."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from dltune.bench.space import expand
from dltune.bench.tune import run_tune
from dltune.engine.dataset_file import fingerprint
from dltune.model import Preflight, SweepSpace, Tuning
from dltune.model.hardware import CpuFacts, HardwareFacts, MemoryFacts
from dltune.model.loader import LoaderConfig
from dltune.model.settings import MeasureSettings
from dltune.recommend import recommend
from dltune.store import save_run
from dltune.tune_model import StageCosts, predict, promising_workers

from .synthetic import run as synthetic_run
from .synthetic import trial

HW = HardwareFacts(
    cpu=CpuFacts(8, 8, 8, None, 8),
    memory=MemoryFacts(64 << 30, 60 << 30, 0, 0, None, None, 32 << 30, 32 << 30, 1024, 4096),
)
SPACE = SweepSpace(workers=(0, 1, 2, 4, 8, 16, 32), batch_size=(32, 64, 128), prefetch_factor=(2, 4))


def cpu_bound(w: int, bs: int) -> tuple[float, float, float]:
    """(rate, workers CPU %, main CPU %): 100/s per worker, 1 core each, flat then declining past 8 cores."""
    if w == 0:
        return 110.0, 100.0, 100.0
    rate = min(100.0 * w, 780.0) - (5.0 * (w - 8) if w > 8 else 0) + bs / 64
    return rate, min(100.0 * w, 790.0), 8.0


def latency_bound(w: int, bs: int) -> tuple[float, float, float]:
    if w == 0:
        return 100.0, 10.0, 10.0
    return 100.0 * w * (1 + bs / 6400), 10.0 * w, 2.0 + 0.05 * w


def transfer_bound(w: int, bs: int) -> tuple[float, float, float]:
    if w == 0:
        return 5000.0 + bs, 100.0, 100.0
    return min(300.0 * w, 900.0), 30.0 * w, 95.0


def fake_runner(
    truth: Callable[[int, int], tuple[float, float, float]],
    calls: list[str],
    windows: list[float] | None = None,
    gain: Callable[[LoaderConfig], float] = lambda c: 1.0,
    fed: Callable[[int], int] | None = None,
):
    def run(
        target: str,
        config: LoaderConfig,
        settings: MeasureSettings,
        *,
        role: str = "sweep",
        repeat: int = 0,
        **kw,
    ) -> object:
        rate, cpu, main = truth(config.num_workers, config.batch_size or 1)
        rate *= gain(config) * (1 + 0.01 * ((len(calls) * 7919) % 5 - 2) / 2)  # +-1% deterministic jitter
        calls.append(config.key())
        if windows is not None:
            windows.append(settings.min_seconds)
        t = trial(config.num_workers, rate, bs=config.batch_size or 1, cpu=cpu, main_cpu=main, spread=0.02)
        if fed is not None and config.num_workers and t.metrics:  # how many workers made a batch
            t = dataclasses.replace(
                t, metrics=dataclasses.replace(t.metrics, fed_workers=fed(config.num_workers))
            )
        return dataclasses.replace(
            t, key=config.key(), config=config, role=role, repeat=repeat, duration_s=1.0
        )

    return run


def searched(run) -> list:
    """The trials that searched (race rounds aside: they go on while the close candidates are unranked)."""
    return [t for t in run.trials if t.role != "race"]


@pytest.mark.parametrize("truth", [cpu_bound, latency_bound, transfer_bound], ids=lambda f: f.__name__)
def test_tune_finds_the_grid_best_with_few_trials(truth, write_file, tmp_path: Path) -> None:
    target = str(write_file("tune_ds", "import torch\ndataset = [torch.zeros(2) for _ in range(64)]\n"))
    calls: list[str] = []
    windows: list[float] = []
    run, _ = run_tune(
        target,
        SPACE,
        MeasureSettings(),
        HW,
        out_root=tmp_path,
        trial_runner=fake_runner(truth, calls, windows),
    )
    planned, _ = expand(SPACE, HW, Preflight())
    grid_best = max(truth(p.config.num_workers, p.config.batch_size or 1)[0] for p in planned)
    rec = recommend(run)
    true_rate = truth(rec.chosen.workers, rec.chosen.batch_size or 1)[0]
    assert true_rate >= 0.95 * grid_best, (rec.chosen.key, true_rate, grid_best)
    # under a third of the grid's trials, each shorter than a grid trial (1 s windows vs 2 s, in one interpreter);
    # the wall-time goal itself is measured by benchmarks/tune_vs_grid.py
    assert all(w < MeasureSettings(min_seconds=2.0).min_seconds for w in windows)
    assert len(searched(run)) <= 0.3 * len(planned), (len(calls), len(planned), calls)
    assert run.search.race is None or run.search.race.rounds <= 3  # a third round where two cannot rank
    assert run.tuning and run.tuning.grid_size == len(planned)
    assert rec.predictions and all(p.predicted > 0 for p in rec.predictions)


def test_model_bounds() -> None:
    cpu = StageCosts(r0=110, r1=100, worker_cpu=1.0, main_cpu_per_sample=0.0001, cores=8)
    assert predict(cpu, 0) == 110 and predict(cpu, 4) == 400 and predict(cpu, 32) == 800
    waiting = StageCosts(r0=100, r1=100, worker_cpu=0.1, main_cpu_per_sample=0.0001, cores=8)
    assert predict(waiting, 32) == 3200  # latency-bound: past the core count
    assert promising_workers(waiting, [0, 1, 2, 4, 8, 16, 32]) == [32]
    assert promising_workers(cpu, [0, 1, 2, 4, 8, 16, 32]) == [8, 16, 32]
    tiny = StageCosts(r0=5000, r1=300, worker_cpu=0.3, main_cpu_per_sample=1 / 900, cores=8)
    assert predict(tiny, 8) == pytest.approx(900) and promising_workers(tiny, [0, 1, 2, 4, 8]) == [0]


def test_a_small_grid_is_measured_whole(write_file, tmp_path: Path) -> None:
    target = str(write_file("tune_small", "import torch\ndataset = [torch.zeros(2) for _ in range(64)]\n"))
    calls: list[str] = []
    space = SweepSpace(workers=(0, 2, 4), batch_size=(64,), prefetch_factor=(2,))
    run, _ = run_tune(
        target, space, MeasureSettings(), HW, out_root=tmp_path, trial_runner=fake_runner(cpu_bound, calls)
    )
    planned, _ = expand(space, HW, Preflight())
    assert sorted(calls) == sorted(p.config.key() for p in planned)  # every configuration once, nothing more
    assert run.tuning == Tuning(grid_size=len(planned), trials=len(planned), exhaustive=True)


HW2 = HardwareFacts(
    cpu=CpuFacts(2, 2, 2, None, 2),
    memory=MemoryFacts(24 << 30, 20 << 30, 0, 0, None, None, 16 << 30, 16 << 30, 65536, 65536),
)


def storage_peak(w: int, bs: int) -> tuple[float, float, float]:
    """Samples wait on storage: linear to 40 workers on 2 cores, then contention (the held-out shape)."""
    if w == 0:
        return 150.0, 12.0, 12.0
    rate = 150.0 * w if w <= 40 else 6000.0 - 40.0 * (w - 40)
    return rate, min(12.0 * w, 190.0), 5.0


def _tune(
    truth,
    space: SweepSpace,
    tmp_path: Path,
    write_file,
    settings: MeasureSettings | None = None,
    entry=run_tune,
    hw: HardwareFacts = HW2,
    gain: Callable[[LoaderConfig], float] = lambda c: 1.0,
    fed: Callable[[int], int] | None = None,
):
    """Search ``space`` on a fake machine (2 cores unless ``hw``) against ``truth`` (times ``gain`` of each
    configuration): tuning, or (``entry=run_bench``) a sweep."""
    target = str(write_file("search_open", "import torch\ndataset = [torch.zeros(2) for _ in range(64)]\n"))
    calls: list[str] = []
    run, _ = entry(
        target,
        space,
        settings or MeasureSettings(),
        hw,
        out_root=tmp_path,
        trial_runner=fake_runner(truth, calls, gain=gain, fed=fed),
    )
    return run, calls


def test_open_ended_search_climbs_past_the_automatic_list(write_file, tmp_path: Path) -> None:
    space = SweepSpace(workers="auto", batch_size=(64,), prefetch_factor=(2, 4))
    run, calls = _tune(storage_peak, space, tmp_path, write_file)
    rec = recommend(run)
    assert storage_peak(rec.chosen.workers, 64)[0] >= 0.95 * 6000, (rec.chosen.key, calls)
    assert max(t.config.num_workers for t in run.trials) > 8  # the automatic list ends at 8 on 2 cores
    assert {t.config.batch_size for t in run.trials} == {64}  # the fixed batch size shapes what is measured
    assert len(searched(run)) <= 14 and run.search.race.rounds <= 3, calls
    search = run.search
    assert [s.stage for s in search.stages][:2] == ["calibrate", "workers"]
    assert search.ceiling and search.ceiling.workers > 40


@pytest.mark.parametrize(
    ("space", "settings", "limit"),
    [
        (SweepSpace(workers="auto", batch_size=(64,), max_workers=16), None, "--max-workers 16"),
        (SweepSpace(workers="auto", batch_size=(64,)), MeasureSettings(memory_limit=2 << 30), "memory"),
    ],
)
def test_user_limits_stop_the_climb_and_are_named(
    space, settings, limit: str, write_file, tmp_path: Path
) -> None:
    run, calls = _tune(storage_peak, space, tmp_path, write_file, settings)
    ceiling = run.search.ceiling
    assert limit in ceiling.limit
    assert max(t.config.num_workers for t in run.trials) <= ceiling.workers < 40
    assert any("still rose" in n and limit in n for n in run.search.notes)


def test_each_prefetch_depth_climbs_to_its_own_ceiling(write_file, tmp_path: Path) -> None:
    # /dev/shm holds the batches in flight of 64 workers at prefetch 2 (8-byte samples, batches of 64),
    # of 32 at prefetch 4: the climb at prefetch 2 is not stopped at prefetch 4's limit, and prefetch 4
    # is not tried with more workers than its limit allows
    shm = int(64 * 2 * 64 * 8 / 0.9) + 64
    hw = dataclasses.replace(HW2, memory=dataclasses.replace(HW2.memory, shm_total=1 << 30, shm_free=shm))
    space = SweepSpace(workers="auto", batch_size=(64,), prefetch_factor=(2, 4))
    run, calls = _tune(storage_peak, space, tmp_path, write_file, hw=hw)
    assert run.preflight and run.preflight.bytes_per_sample == 8
    deepest = {
        pf: max((t.config.num_workers for t in run.trials if t.config.prefetch_factor == pf), default=0)
        for pf in (2, 4)
    }
    assert deepest[2] > 32 and deepest[4] <= 32, calls
    assert storage_peak(recommend(run).chosen.workers, 64)[0] >= 0.95 * 6000, calls


def test_a_deeper_depth_whose_ceiling_lies_below_the_leader_is_measured_at_its_ceiling(
    write_file, tmp_path: Path
) -> None:
    # /dev/shm allows 64 workers at prefetch 2 and 32 at prefetch 4; the peak at prefetch 2 lies at 40. Deeper
    # queues smooth bursts (40% more here): prefetch 4 with its 32 workers beats everything prefetch 2 reached,
    # and must be measured although the leader's count lies past its ceiling (the bursty case: 64 workers at
    # prefetch 2, 37 at prefetch 4 by open files, and prefetch 4 was never measured)
    shm = int(64 * 2 * 64 * 8 / 0.9) + 64
    hw = dataclasses.replace(HW2, memory=dataclasses.replace(HW2.memory, shm_total=1 << 30, shm_free=shm))
    deeper = lambda c: 1.4 if (c.prefetch_factor or 0) >= 4 else 1.0  # noqa: E731
    space = SweepSpace(workers="auto", batch_size=(64,), prefetch_factor=(2, 4))
    run, calls = _tune(storage_peak, space, tmp_path, write_file, hw=hw, gain=deeper)
    chosen = recommend(run).chosen
    assert chosen.config.prefetch_factor == 4 and chosen.workers <= 32, (chosen.key, calls)
    assert 1.4 * storage_peak(chosen.workers, 64)[0] >= 0.95 * 1.4 * storage_peak(32, 64)[0], calls


def test_workers_the_dataset_cannot_feed_stop_the_climb_and_are_never_chosen(
    write_file, tmp_path: Path
) -> None:
    # 16 shards split among the workers: past 16 the rest make no batch and only idle (the stream example:
    # 30 workers read as 16 did); the rate would still "rise" on the storage curve if they were fed
    shards = 16
    feeds = lambda w: min(w, shards)  # noqa: E731
    fed_only = lambda w, bs: storage_peak(feeds(w), bs)  # noqa: E731
    space = SweepSpace(workers="auto", batch_size=(64,), prefetch_factor=(2, 4))
    run, calls = _tune(fed_only, space, tmp_path, write_file, fed=feeds)
    chosen = recommend(run).chosen
    assert chosen.workers == shards, (chosen.key, calls)
    above = [t.config.num_workers for t in run.trials if t.config.num_workers > shards]
    assert len(above) == 1, calls  # the first count past the shards shows it; the climb goes no higher
    assert any(t.config.num_workers == shards and t.role == "search-fed" for t in run.trials), calls
    assert run.search.ceiling and run.search.ceiling.workers == shards, (
        run.search.ceiling
    )  # the report names it
    assert f"feeds only {shards} workers" in run.search.ceiling.limit
    if run.search.race:
        assert all(k.startswith(f"w{shards}-") for k in run.search.race.candidates), run.search.race


def test_a_best_on_a_listed_edge_is_reported(write_file, tmp_path: Path) -> None:
    run, _ = _tune(storage_peak, SweepSpace(workers=(0, 1, 2, 4, 8), batch_size=(64,)), tmp_path, write_file)
    assert max(t.config.num_workers for t in run.trials) == 8  # a listed axis is not extended...
    assert any("may lie beyond 8" in n for n in run.search.notes)  # ...but the edge is named


def test_many_waiting_workers_on_busy_cores_still_vary_prefetch(write_file, tmp_path: Path) -> None:
    # 2 cores kept busy by 32+ workers that mostly wait on storage: a deeper queue (prefetch 4) lets them
    # run ahead of slow samples, 8% more (measured on the latency example: 6% at 64 workers, cores 85% busy)
    deeper = lambda c: 1.08 if (c.prefetch_factor or 0) >= 4 else 1.0  # noqa: E731
    space = SweepSpace(workers="auto", batch_size=(64,), prefetch_factor=(2, 4))
    run, calls = _tune(storage_peak, space, tmp_path, write_file, gain=deeper)
    chosen = recommend(run).chosen
    assert chosen.config.prefetch_factor == 4 and chosen.workers > 2, (chosen.key, calls)
    assert not any("prefetch_factor was not varied" in n for n in run.search.notes)


def test_busy_cores_with_no_more_workers_than_cores_skip_prefetch(write_file, tmp_path: Path) -> None:
    # CPU-bound on 8 cores: at 8 workers every worker computes, a deeper queue has no idle CPU to use
    run, calls = _tune(cpu_bound, SPACE, tmp_path, write_file, hw=HW)
    assert not [c for c in calls if "pf4" in c], calls
    assert any("prefetch_factor was not varied" in n for n in run.search.notes)


def test_when_the_main_process_wins_tuning_stops_early(write_file, tmp_path: Path) -> None:
    run, calls = _tune(transfer_bound, SweepSpace(workers="auto", batch_size=(64,)), tmp_path, write_file)
    assert recommend(run).chosen.workers == 0
    assert len(calls) <= 4, calls
    assert "main-process" in [s.stage for s in run.search.stages]


def test_screening_trials_rank_against_the_leader(write_file, tmp_path: Path) -> None:
    """Each screening trial carries the leader's rate so far (it may stop once clearly behind it);
    calibration and race trials do not (the race needs its own precise rates)."""
    seen: list[tuple[str, str, float]] = []
    precision: dict[str, float] = {}
    inner = fake_runner(latency_bound, [])

    def run(target: str, config: LoaderConfig, settings: MeasureSettings, **kw: object) -> object:
        result = inner(target, config, settings, **kw)
        seen.append((config.key(), str(kw.get("role")), settings.rank_against))
        precision[str(kw.get("role"))] = settings.precision
        return result

    tuned, _ = run_tune(
        str(write_file("rank_ds", "import torch\ndataset = [torch.zeros(2) for _ in range(64)]\n")),
        SweepSpace(workers="auto", batch_size=(64,), prefetch_factor=(2, 4)),
        MeasureSettings(),
        HW,
        out_root=tmp_path,
        trial_runner=run,
    )
    screens = [(i, r) for i, (_, role, r) in enumerate(seen) if role == "screen"]
    assert screens and all(r > 0 for _, r in screens)
    for i, r in screens:  # the best rate measured before it
        before = [t.metrics.samples_per_s for t in tuned.trials[:i] if t.ok and t.metrics]
        assert r == pytest.approx(max(before), rel=0.02)
    assert all(r == 0 for _, role, r in seen if role != "screen")
    # calibration only places the search: a looser window than the screens' and the race's
    assert precision.pop("calibration") == 0.08
    assert precision and set(precision.values()) == {0.04}  # screens, searches and the race, if any


def test_close_candidates_are_raced_and_only_race_trials_rank_them(write_file, tmp_path: Path) -> None:
    run, _ = _tune(cpu_bound, SPACE, tmp_path, write_file)
    race = run.search.race
    assert len(race.candidates) == 2 and race.rounds >= 2
    race_trials = [t for t in run.trials if t.role == "race"]
    assert {t.key for t in race_trials} == set(race.candidates)
    # interleaved: each round measures every candidate once, and the first in line changes between rounds
    n = len(race.candidates)
    rounds = [race_trials[i : i + n] for i in range(0, len(race_trials), n)]
    assert all(len({t.key for t in r}) == n for r in rounds)
    assert rounds[0][0].key != rounds[1][0].key
    ranked = {s.key: s for s in recommend(run).ranked}
    for key in race.candidates:
        assert ranked[key].repeats == len([t for t in race_trials if t.key == key])


def node_cpu_bound(w: int, bs: int) -> tuple[float, float, float]:
    """Two ranks on the 8-core machine, each rank's loader with ``w`` workers (node figures: the node rate,
    CPU added up): 8 busy workers in all fill the cores; more only contend."""
    total = 2 * w
    if w == 0:
        return 220.0, 200.0, 200.0
    return (
        min(100.0 * total, 780.0) - (5.0 * (total - 8) if total > 8 else 0) + bs / 64,
        min(100.0 * total, 790.0),
        16.0,
    )


def test_tune_with_ranks_plans_each_rank_on_its_share_of_the_cores(write_file, tmp_path: Path) -> None:
    target = str(write_file("tune_ranks", "import torch\ndataset = [torch.zeros(2) for _ in range(64)]\n"))
    # an earlier run tuned this file as one loader: 8 workers (all the cores) at batch 128
    one = dataclasses.replace(
        synthetic_run(trial(8, 800, bs=128), trial(0, 100, bs=128)),
        target=target,
        fingerprint=fingerprint(target),
    )
    (tmp_path / "20260101-000000-one").mkdir()
    save_run(one, tmp_path / "20260101-000000-one")
    calls: list[str] = []
    run, _ = run_tune(
        target,
        SweepSpace(workers="auto", batch_size=(64,), prefetch_factor=(2,)),
        MeasureSettings(nproc_per_node=2),
        HW,
        out_root=tmp_path,
        trial_runner=fake_runner(node_cpu_bound, calls),
    )
    rec = recommend(run)
    assert rec.chosen.workers == 4, (rec.chosen.key, calls)  # 2 ranks x 4 workers fill 8 cores
    assert len(searched(run)) <= 10 and (run.search.race is None or run.search.race.rounds <= 3), calls
    # the naive node setup (every rank with num_workers = cores) is measured, for the comparison
    assert rec.cores_rule is not None and rec.cores_rule.config.num_workers == 8
    assert rec.speedup_vs_cores_rule is not None and rec.speedup_vs_cores_rule > 1.0
    # ...and the single-loader recommendation on every rank, at this run's batch size
    assert run.single_loader is not None
    single = [t for t in run.trials if t.key == run.single_loader]
    assert single and single[0].config.num_workers == 8 and single[0].config.batch_size == 64
    # predictions are for the node (both ranks), as the measurements are
    w4 = next(p for p in rec.predictions if p.key == rec.chosen.key)
    assert w4.predicted == pytest.approx(node_cpu_bound(4, 64)[0], rel=0.15)


def test_the_workers_interpreter_has_booted_before_anything_is_timed(
    write_file, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both interpreters boot at once, so that the first trial with workers does not wait 2 s for its own;
    but the preflight (which times samples) and every trial come after that boot has finished: an import of
    torch beside a measuring window slows part of it."""
    import dltune.bench.tune as tune_mod
    from dltune.bench.child import READY_JOB, WatchedProcess

    events: list[str] = []

    class Recorded(WatchedProcess):
        def run(self, job: str, payload: dict, **watch: object):  # type: ignore[override]
            out = super().run(job, payload, **watch)
            events.append(f"{job} answered, alive={self.alive}")
            return out

    class Stop(Exception):
        pass

    def preflight_and_plan(*a: object, **kw: object) -> None:
        events.append("preflight")
        raise Stop

    monkeypatch.setattr(tune_mod, "WatchedProcess", Recorded)
    monkeypatch.setattr(tune_mod, "preflight_and_plan", preflight_and_plan)
    target = str(write_file("tune_boot", "import torch\ndataset = [torch.zeros(2) for _ in range(64)]\n"))
    with pytest.raises(Stop):
        run_tune(target, SPACE, MeasureSettings(), HW, out_root=tmp_path)
    assert events == [f"{READY_JOB} answered, alive=True", "preflight"]
