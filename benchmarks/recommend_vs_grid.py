"""Recommended configuration vs the exhaustive grid's best, DataLoader's defaults and the cores rule.

For each example: sweep a grid, let ``recommend`` choose, then measure the four configurations again
side by side in interleaved rounds (A B C D, B C D A, ...) and print median ratios.
Goals: recommended / grid best >= 0.95; recommended / defaults >= 1.0; recommended / cores rule >= 1.0.

    python benchmarks/recommend_vs_grid.py [--rounds 3] [--examples image_folder,text]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _common import EXAMPLES, median

from dltune.bench.runner import run_bench
from dltune.bench.trial import run_trial
from dltune.hardware.facts import probe
from dltune.model import SweepSpace
from dltune.model.loader import LoaderConfig
from dltune.model.settings import MeasureSettings
from dltune.recommend import recommend

ALL = ("image_folder", "imbalanced", "detection", "text", "stream")
BATCH = {"image_folder": 64, "imbalanced": 256, "detection": 16, "text": 64, "stream": 64}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--examples", default=",".join(ALL))
    args = ap.parse_args()
    hw = probe(h2d=False)
    cores = hw.cpu.usable
    settings = MeasureSettings(min_batches=12, min_seconds=1.5, max_seconds=8, segments=5, timeout_s=120)
    rows = []
    for name in args.examples.split(","):
        target = str(EXAMPLES / f"{name}.py")
        space = SweepSpace(batch_size=(BATCH[name],), prefetch_factor=(2, 4), persistent_workers=(True,))
        with tempfile.TemporaryDirectory() as tmp:
            run, _ = run_bench(target, space, settings, hw, out_root=Path(tmp))
        rec = recommend(run)
        ok = sorted(run.ok_trials(), key=lambda t: -t.metrics.samples_per_s)  # type: ignore[union-attr]
        configs = {
            "recommended": rec.chosen.config,
            "grid best": ok[0].config,
            "defaults": LoaderConfig(batch_size=BATCH[name]),
            "cores rule": LoaderConfig(batch_size=BATCH[name], num_workers=cores, prefetch_factor=2),
        }
        # the same configuration under two names is measured once (its ratio is exactly 1, not noise)
        unique = list({c.key(): c for c in configs.values()}.values())
        by_key: dict[str, list[float]] = {c.key(): [] for c in unique}
        for r in range(args.rounds):
            for cfg in unique[r % len(unique) :] + unique[: r % len(unique)]:  # rotate the order every round
                t = run_trial(target, cfg, settings)
                by_key[cfg.key()].append(t.metrics.samples_per_s if t.metrics else 0.0)
        med = {k: median(by_key[c.key()]) for k, c in configs.items()}
        rows.append((name, rec.chosen.key, ok[0].key, med))
        print(
            f"{name}: recommended {rec.chosen.key} ({rec.bottleneck.kind}); grid best {ok[0].key}; "
            + ", ".join(f"{k} {v:,.0f}/s" for k, v in med.items()),
            flush=True,
        )
    print()
    print(f"{'example':<14}{'rec/grid best':>15}{'rec/defaults':>14}{'rec/cores rule':>16}")
    passed = True
    for name, _, _, med in rows:
        a, b, c = (med["recommended"] / med[k] for k in ("grid best", "defaults", "cores rule"))
        passed &= a >= 0.95 and b >= 1.0 and c >= 1.0
        print(f"{name:<14}{a:>15.3f}{b:>14.2f}{c:>16.2f}")
    print(
        f"goals: rec/grid best >= 0.95, rec/defaults >= 1.0, rec/cores rule >= 1.0: {'PASS' if passed else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
