"""The node recommendation vs the naive setups and an exhaustive grid, all with 2 ranks measured together.

For each example: tune with ``--nproc-per-node 2`` (what ``dltune recommend DATASET --nproc-per-node 2``
runs: the model's search, every trial with both ranks) and let ``recommend`` choose;
sweep the same example as one loader and take its recommendation (what a user would apply to every
rank); sweep an exhaustive 2-rank grid (workers 0..cores x 2 x prefetch 2/4). Then measure, with 2
ranks at once, in interleaved rounds whose order rotates:
  node recommendation / (a) every rank with num_workers = cores / (b) the single-loader recommendation
  on every rank / (c) the grid's best,
and print median node throughput ratios (ranks x the slowest rank) and each one's node memory (PSS); for
an example whose dataset has ``shard()`` (text), the node memory with and without sharding that the
tuning run measured.
Goals: >= (a) and (b), >= 0.95 of (c).

    python benchmarks/node.py [--rounds 3] [--examples image_folder,text]
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from _common import EXAMPLES, median

from dltune.bench.ranks import run_node_trial
from dltune.bench.runner import run_bench
from dltune.bench.tune import run_tune
from dltune.hardware.facts import probe
from dltune.model import SweepSpace
from dltune.model.loader import LoaderConfig
from dltune.model.settings import MeasureSettings
from dltune.recommend import recommend

ALL = ("image_folder", "text")
BATCH = {"image_folder": 64, "imbalanced": 256, "detection": 16, "text": 64, "stream": 64}
RANKS = 2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--examples", default=",".join(ALL))
    args = ap.parse_args()
    hw = probe(h2d=False)
    cores = hw.cpu.usable
    one = MeasureSettings(min_batches=12, min_seconds=1.5, max_seconds=6, segments=5, timeout_s=120)
    node = replace(one, nproc_per_node=RANKS)
    rows = []
    for name in args.examples.split(","):
        target = str(EXAMPLES / f"{name}.py")
        bs = BATCH[name]
        space = SweepSpace(batch_size=(bs,), prefetch_factor=(2, 4), persistent_workers=(True,))
        grid = replace(
            space, workers=tuple(range(0, 2 * cores + 1)), references=False
        )  # exhaustive per-rank worker counts
        with tempfile.TemporaryDirectory() as tmp:
            node_run, _ = run_tune(target, replace(space, workers="auto"), node, hw, out_root=Path(tmp))
            single_run, _ = run_bench(target, space, one, hw, out_root=Path(tmp))
            grid_run, _ = run_bench(target, grid, node, hw, out_root=Path(tmp), confirm=False)
        best = max(grid_run.ok_trials(), key=lambda t: t.rate)
        configs = {
            "node rec": recommend(node_run).chosen.config,
            "(a) cores each": LoaderConfig(batch_size=bs, num_workers=cores, prefetch_factor=2),
            "(b) single rec each": recommend(single_run).chosen.config,
            "(c) grid best": best.config,
        }
        unique = list({c.key(): c for c in configs.values()}.values())
        rates: dict[str, list[float]] = {c.key(): [] for c in unique}
        memory: dict[str, list[float]] = {c.key(): [] for c in unique}
        for r in range(args.rounds):
            for cfg in unique[r % len(unique) :] + unique[: r % len(unique)]:  # rotate the order every round
                t = run_node_trial(target, cfg, node)
                rates[cfg.key()].append(t.rate)
                if t.metrics:
                    memory[cfg.key()].append(t.metrics.peak_pss_total)
        med = {k: median(rates[c.key()]) for k, c in configs.items()}
        mem = {k: median(memory[c.key()]) if memory[c.key()] else 0.0 for k, c in configs.items()}
        spread = {
            k: (max(rates[c.key()]) - min(rates[c.key()])) / median(rates[c.key()])
            if median(rates[c.key()])
            else 0.0
            for k, c in configs.items()
        }
        rows.append((name, med))
        print(f"{name}:", flush=True)
        for k, c in configs.items():
            print(
                f"  {k:<20} {c.key():<28} {med[k]:>9,.0f} samples/s (node)  spread {spread[k]:.0%}  "
                f"node PSS {mem[k] / 2**20:,.0f} MiB",
                flush=True,
            )
        sm = node_run.sharding
        if sm is not None:
            full = f"{sm.full_pss / 2**20:,.0f} MiB" if not sm.full_failed else f"failed ({sm.full_failed})"
            print(
                f"  sharding ({sm.key}): node PSS {sm.sharded_pss / 2**20:,.0f} MiB with shard(), {full} with "
                f"the full dataset on every rank; one rank's main {sm.sharded_main_pss / 2**20:,.0f} vs "
                f"{sm.full_main_pss / 2**20:,.0f} MiB",
                flush=True,
            )
        print(f"  tuning: {len(node_run.trials)} node trials", flush=True)
    print()
    print(f"{'example':<14}{'rec/(a)':>10}{'rec/(b)':>10}{'rec/(c)':>10}")
    passed = True
    for name, med in rows:
        a, b, c = (
            med["node rec"] / med[k] for k in ("(a) cores each", "(b) single rec each", "(c) grid best")
        )
        passed &= a >= 0.98 and b >= 0.98 and c >= 0.95
        print(f"{name:<14}{a:>10.3f}{b:>10.3f}{c:>10.3f}")
    print(f"goals: >= (a) and (b) (within 2% noise), >= 0.95 of (c): {'PASS' if passed else 'FAIL'}")


if __name__ == "__main__":
    main()
