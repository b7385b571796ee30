"""Repeatability: one configuration measured N times (separate trial processes) on the image example.

Prints the coefficient of variation of the measured throughput across trials. Goal: CV <= 5%.

    python benchmarks/repeatability.py [--runs 5]
"""

from __future__ import annotations

import argparse

from _common import EXAMPLES, cv, median

from dltune.bench.space import load_space
from dltune.bench.trial import run_trial
from dltune.model.loader import LoaderConfig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--config", default="default", help="whose [measure] settings to use")
    args = ap.parse_args()
    _, settings = load_space(args.config)
    target = str(EXAMPLES / "image_folder.py")
    cfg = LoaderConfig(batch_size=64, num_workers=2, prefetch_factor=2, persistent_workers=True)
    rates, inner = [], []
    for i in range(args.runs):
        r = run_trial(target, cfg, settings)
        assert r.metrics is not None, r.reason
        rates.append(r.metrics.samples_per_s)
        inner.append(r.metrics.cv)
        print(
            f"run {i + 1}: {r.metrics.samples_per_s:.0f} samples/s over {r.metrics.window_s:.1f} s "
            f"(within-run CV {r.metrics.cv:.1%})",
            flush=True,
        )
    print(f"config: {cfg.to_code()}; [measure] from configs/{args.config}.toml")
    print(
        f"median {median(rates):.0f} samples/s; across-run CV = {cv(rates):.1%} (goal <= 5%)  "
        f"{'PASS' if cv(rates) <= 0.05 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
