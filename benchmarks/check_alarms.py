"""The regression check on this machine: false alarms on A/A runs, detection of injected slowdowns.

A dataset file whose per-sample CPU work is a knob lives in a temporary git repository. Each check
measures HEAD against the working tree side by side (ABBA rounds, as `dltune check --against`):
- A/A: the file unchanged, --aa times; goal: no regression verdict;
- A/B: the work raised by 10% and by 25%, --ab times each; detection rate = regression verdicts.
Also prints the wall time of one check.

    python benchmarks/check_alarms.py [--aa 20] [--ab 5] [--rounds 8]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import median

from dltune.bench.abba import abba, checkout_at
from dltune.bench.space import load_space
from dltune.model.loader import LoaderConfig
from dltune.regress import judge

DATASET = """
import torch
WORK = {work}

class Work(torch.utils.data.Dataset):
    def __len__(self):
        return 4096

    def __getitem__(self, i):
        acc = 0
        for k in range(WORK):  # CPU work per sample, like decoding
            acc += k * k % 7
        return torch.full((64,), float(acc % 3))

dataset = Work()
"""
BASE_WORK = 2000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--aa", type=int, default=20)
    ap.add_argument("--ab", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args()
    _, settings = load_space("ci")
    configs = [LoaderConfig(batch_size=64, num_workers=2, prefetch_factor=2, persistent_workers=True)]
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        ds = repo / "pipeline.py"
        ds.write_text(DATASET.format(work=BASE_WORK))
        git = ["git", "-c", "user.email=b@b", "-c", "user.name=b", "-C", str(repo)]
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-qm", "base"], check=True)

        def one_check(slowdown: float) -> tuple[str, float, float]:
            ds.write_text(DATASET.format(work=int(BASE_WORK * (1 + slowdown))))
            t0 = time.perf_counter()
            with checkout_at(str(ds), "HEAD") as base:
                a, b = abba(base, str(ds), configs, settings, args.rounds)
            key = configs[0].key()
            v = judge(key, a[key], b[key], threshold=0.05, alpha=0.05, paired=True)
            ratio = v.comparison.ratio if v.comparison else float("nan")
            return v.verdict, ratio, time.perf_counter() - t0

        results: dict[float, list[tuple[str, float, float]]] = {}
        for slowdown, n in ((0.0, args.aa), (0.10, args.ab), (0.25, args.ab)):
            results[slowdown] = []
            for i in range(n):
                results[slowdown].append(one_check(slowdown))
                verdict, ratio, wall = results[slowdown][-1]
                print(
                    f"work +{slowdown:.0%} run {i + 1}: {verdict} (throughput ratio {ratio:.3f}, {wall:.0f} s)",
                    flush=True,
                )
    print()
    for slowdown, rs in results.items():
        counts = Counter(v for v, _, _ in rs)
        ratio = median([r for _, r, _ in rs])
        label = "A/A (no change)" if slowdown == 0 else f"work +{slowdown:.0%}"
        rate = counts["regression"] / len(rs)
        print(
            f"{label:<18} runs {len(rs):>3}  regression {counts['regression']:>3} ({rate:.0%})  "
            f"inconclusive {counts['inconclusive']:>3}  pass {counts['pass']:>3}  median ratio {ratio:.3f}"
        )
    walls = [w for rs in results.values() for _, _, w in rs]
    print(
        f"wall time of one check ({len(configs)} config x {args.rounds} ABBA rounds): median {median(walls):.0f} s"
    )


if __name__ == "__main__":
    main()
