"""The sweep's own search (fake trials): a best on the edge of the automatic worker list is extended,
a listed one is reported, and close candidates are settled side by side before recommend chooses."""

from __future__ import annotations

from pathlib import Path

from dltune.bench.runner import run_bench
from dltune.model import SweepSpace
from dltune.recommend import recommend

from .test_tune import _tune, storage_peak


def _bench(space: SweepSpace, write_file, tmp_path: Path):
    return _tune(storage_peak, space, tmp_path, write_file, entry=run_bench)


def test_a_best_on_the_automatic_edge_is_extended(write_file, tmp_path: Path) -> None:
    run, _ = _bench(SweepSpace(workers="auto", batch_size=(64,), prefetch_factor=(2,)), write_file, tmp_path)
    climbed = [t for t in run.trials if t.role.startswith("search")]
    assert climbed and max(t.config.num_workers for t in climbed) > 8
    rec = recommend(run)
    assert storage_peak(rec.chosen.workers, 64)[0] >= 0.95 * 6000, rec.chosen.key
    assert run.search.ceiling.workers >= 40


def test_a_best_on_a_listed_edge_is_reported_not_extended(write_file, tmp_path: Path) -> None:
    run, _ = _bench(
        SweepSpace(workers=(0, 2, 4, 8), batch_size=(64,), prefetch_factor=(2,)), write_file, tmp_path
    )
    assert max(t.config.num_workers for t in run.trials) == 8
    rec = recommend(run)
    assert any("may lie beyond 8" in n for n in rec.search.notes)


def test_a_best_whose_workers_the_dataset_cannot_feed_is_not_called_an_edge(
    write_file, tmp_path: Path
) -> None:
    # 6 shards: 8 workers read as 6 would; the grid never measured 6, and nothing past 8 can help
    feeds = lambda w: min(w, 6)  # noqa: E731
    run, _ = _tune(
        lambda w, bs: storage_peak(feeds(w), bs),
        SweepSpace(workers="auto", batch_size=(64,), prefetch_factor=(2,)),
        tmp_path,
        write_file,
        entry=run_bench,
        fed=feeds,
    )
    assert max(t.config.num_workers for t in run.trials) == 8  # no climb past the automatic list's 8
    assert not any("may lie beyond" in n for n in run.search.notes)
    assert (
        run.search.ceiling and run.search.ceiling.workers == 6 and "feeds only 6" in run.search.ceiling.limit
    )
    rec = recommend(run)
    assert rec.bottleneck.kind == "parallelism" and "num_workers=6" in rec.bottleneck.next_steps[0]


def test_close_candidates_are_confirmed_side_by_side(write_file, tmp_path: Path) -> None:
    # 38 and 42 workers read within a few percent of each other: only a race may rank them
    run, _ = _bench(
        SweepSpace(workers=(0, 16, 38, 42), batch_size=(64,), prefetch_factor=(2,)), write_file, tmp_path
    )
    race = run.search.race
    assert race and len(race.candidates) >= 2 and race.rounds >= 2
    assert {t.key for t in run.trials if t.role == "race"} == set(race.candidates)
    rec = recommend(run)
    assert rec.chosen.key in race.candidates
    from dltune.report import markdown

    md = markdown.render(rec)
    assert "Settled side by side" in md and "time per stage" in md
    assert (
        race.ended in ("decided", "close", "rounds") and f"for {race.rounds} rounds, stopping " in md
    )  # says why
