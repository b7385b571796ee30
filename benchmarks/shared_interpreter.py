"""Tuning's shared interpreter vs the sweep's fresh one: same throughput read, at what cost per trial.

For each configuration, in rounds (interleaved): a sweep trial (fresh interpreter, the default 2 s
window) and a tuning trial (the tuning interpreter, reused across all trials, tuning's 1 s window).
Prints the median throughput of each, their ratio (goal: within 0.97-1.03) and the wall time per
trial of each.

    python benchmarks/shared_interpreter.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

from _common import EXAMPLES, median

from dltune.bench.child import WatchedProcess
from dltune.bench.trial import run_trial
from dltune.bench.tune import screen_settings
from dltune.model.loader import LoaderConfig
from dltune.model.settings import MeasureSettings

CASES = [
    ("image_folder", LoaderConfig(batch_size=32, num_workers=2, persistent_workers=True)),
    ("image_folder", LoaderConfig(batch_size=128, num_workers=2, persistent_workers=True)),
    ("detection", LoaderConfig(batch_size=64, num_workers=4, persistent_workers=True)),
    ("text", LoaderConfig(batch_size=128)),
    ("stream", LoaderConfig(batch_size=128, num_workers=8, prefetch_factor=4, persistent_workers=True)),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    sweep = MeasureSettings(min_seconds=2.0)
    tuning = screen_settings(sweep)
    rates: dict[tuple[int, str], list[float]] = {}
    walls: dict[str, list[float]] = {"sweep": [], "tuning": []}
    with WatchedProcess() as shared:
        for r in range(args.rounds):
            for i, (name, cfg) in enumerate(CASES):
                arms = [("sweep", sweep, None), ("tuning", tuning, shared)]
                for arm, settings, process in arms if (r + i) % 2 == 0 else arms[::-1]:
                    t0 = time.perf_counter()
                    t = run_trial(str(EXAMPLES / f"{name}.py"), cfg, settings, process=process)
                    walls[arm].append(time.perf_counter() - t0)
                    rates.setdefault((i, arm), []).append(t.metrics.samples_per_s if t.metrics else 0.0)
        started = shared.started
    print(f"{'example':<14}{'configuration':<28}{'sweep /s':>10}{'tuning /s':>11}{'ratio':>7}")
    ratios = []
    for i, (name, cfg) in enumerate(CASES):
        a, b = median(rates[(i, "sweep")]), median(rates[(i, "tuning")])
        ratios.append(b / a)
        print(f"{name:<14}{cfg.key():<28}{a:>10,.0f}{b:>11,.0f}{b / a:>7.3f}")
    print(
        f"tuning/sweep throughput ratios {min(ratios):.3f}-{max(ratios):.3f} (goal 0.97-1.03): "
        f"{'PASS' if all(0.97 <= x <= 1.03 for x in ratios) else 'FAIL'}"
    )
    print(
        f"wall time per trial: sweep {median(walls['sweep']):.2f} s, tuning {median(walls['tuning']):.2f} s "
        f"(ratio {median(walls['tuning']) / median(walls['sweep']):.2f}); tuning interpreters started: {started}"
    )


if __name__ == "__main__":
    main()
