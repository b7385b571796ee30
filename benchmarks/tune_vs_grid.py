"""Adaptive tuning vs the exhaustive grid (and the grid's recommendation vs its best), every example.

Per example: sweep the default space exhaustively (timed), recommend from it, tune the same space
(timed), then measure side by side, in rounds whose order rotates: the tuned choice, the grid's
recommendation, the grid's fastest, DataLoader's defaults and the num_workers = cores rule.
Goals (issue: tuning): tuned / grid best >= 0.95 and tune wall time / grid wall time <= 0.20.
Goals (issue: recommend): recommended / grid best >= 0.95, >= 1.0 against defaults and the cores rule.
Also prints the model's prediction error for every configuration tuning measured.

    python benchmarks/tune_vs_grid.py [--rounds 5] [--examples image_folder,stream] [--config default]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import EXAMPLES, median

from dltune.bench.runner import run_bench
from dltune.bench.space import load_space
from dltune.bench.trial import run_trial
from dltune.bench.tune import run_tune
from dltune.hardware.facts import probe
from dltune.model.loader import LoaderConfig
from dltune.recommend import recommend

ALL = ("image_folder", "imbalanced", "detection", "text", "stream")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--examples", default=",".join(ALL))
    ap.add_argument("--config", default="default")
    args = ap.parse_args()
    hw = probe(h2d=False)
    space, settings = load_space(args.config)
    rows = []
    for name in args.examples.split(","):
        target = str(EXAMPLES / f"{name}.py")
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            grid, _ = run_bench(target, space, settings, hw, out_root=Path(tmp))
            grid_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            tuned, _ = run_tune(target, space, settings, hw, out_root=Path(tmp))
            tune_s = time.perf_counter() - t0
        grid_rec, tune_rec = recommend(grid), recommend(tuned)
        best = max(grid.ok_trials(), key=lambda t: t.metrics.samples_per_s)  # type: ignore[union-attr]
        bs = best.config.batch_size
        configs = {
            "tuned": tune_rec.chosen.config,
            "recommended": grid_rec.chosen.config,
            "grid best": best.config,
            "defaults": LoaderConfig(batch_size=bs),
            "cores rule": LoaderConfig(batch_size=bs, num_workers=hw.cpu.usable, prefetch_factor=2),
        }
        unique = list({c.key(): c for c in configs.values()}.values())  # one configuration is measured once
        rates: dict[str, list[float]] = {c.key(): [] for c in unique}
        for r in range(args.rounds):
            for cfg in unique[r % len(unique) :] + unique[: r % len(unique)]:
                t = run_trial(target, cfg, settings)
                rates[cfg.key()].append(t.metrics.samples_per_s if t.metrics else 0.0)
        med = {k: median(rates[c.key()]) for k, c in configs.items()}
        errors = [abs(p["error"]) for p in tune_rec.predictions if p.get("error") is not None]
        rows.append((name, med, grid_s, tune_s, errors))
        print(
            f"{name}: grid {len(grid.trials)} trials {grid_s:.0f} s, tune {len(tuned.trials)} trials {tune_s:.0f} s; "
            + ", ".join(f"{k} {configs[k].key()} {v:,.0f}/s" for k, v in med.items()),
            flush=True,
        )
        for p in tune_rec.predictions:
            err = f"{p['error']:+.0%}" if p.get("error") is not None else "-"
            print(
                f"    predicted {p['predicted']:>9,.0f}  measured {p['measured']:>9,.0f}  error {err:>5}  {p['key']} "
                f"({p['bound']})"
            )
    print()
    print(
        f"{'example':<13}{'tuned/best':>11}{'tune/grid time':>15}{'rec/best':>9}{'rec/defaults':>13}"
        f"{'rec/cores':>10}{'median |pred err|':>19}"
    )
    ok_tune = ok_rec = True
    for name, med, grid_s, tune_s, errors in rows:
        tb, tt = med["tuned"] / med["grid best"], tune_s / grid_s
        rb, rd, rc = (med["recommended"] / med[k] for k in ("grid best", "defaults", "cores rule"))
        ok_tune &= tb >= 0.95 and tt <= 0.20
        ok_rec &= rb >= 0.95 and rd >= 1.0 and rc >= 1.0
        err = f"{median(errors):.0%}" if errors else "-"
        print(f"{name:<13}{tb:>11.3f}{tt:>15.2f}{rb:>9.3f}{rd:>13.2f}{rc:>10.2f}{err:>19}")
    print(f"tune goals (>= 0.95 of best, <= 0.20 of grid time): {'PASS' if ok_tune else 'FAIL'}")
    print(
        f"recommend goals (>= 0.95 of best, >= 1.0 vs defaults and cores rule): {'PASS' if ok_rec else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
