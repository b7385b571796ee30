"""The regression check at its defaults on this machine: false alarms on A/A, detection of slowdowns.

A dataset file whose per-sample CPU work is a knob lives in a temporary git repository. Each check is
`dltune check pipeline.py --against HEAD --json` with no other flag (default configurations, threshold,
alpha and time budget), run as a user runs it:
- A/A: the file unchanged (--aa times); goals: no regression verdict, at most 2 in 20 inconclusive;
- A/B: the per-sample work raised by 10% and by 25% (--ab times each); goals: 9 in 10 and 10 in 10
  caught (regression verdicts).
The cases are interleaved (A/A, +10%, A/A, +25%, ...) so that a drift of the machine weighs on all.
Prints each check's verdict, its configurations' ratios and wall time, then the counts and the
median wall time of a check.

    python benchmarks/check_alarms.py [--aa 20] [--ab 10] [--flags "..."] [--length 4096]

``--length 1024`` gives short epochs (16 batches of 64), where a check's windows span whole epochs.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import median

DATASET = """
import torch
WORK = {work}

class Work(torch.utils.data.Dataset):
    def __len__(self):
        return {length}

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
    ap.add_argument("--ab", type=int, default=10)
    ap.add_argument("--flags", default="", help="extra flags for dltune check (default: none)")
    ap.add_argument(
        "--length", type=int, default=4096, help="samples in the dataset: 1024 makes 16-batch epochs at 64"
    )
    args = ap.parse_args()
    cases = [0.0] * args.aa
    ab = [s for pair in itertools.zip_longest([0.10] * args.ab, [0.25] * args.ab) for s in pair if s]
    order: list[float] = []
    for i in range(max(len(cases), len(ab))):  # interleaved: A/A, A/B, A/A, A/B, ...
        order += cases[i : i + 1] + ab[i : i + 1]
    with tempfile.TemporaryDirectory(prefix="check-alarms-") as tmp:
        repo = Path(tmp)
        ds = repo / "pipeline.py"
        ds.write_text(DATASET.format(work=BASE_WORK, length=args.length))
        git = ["git", "-c", "user.email=b@b", "-c", "user.name=b", "-C", str(repo)]
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        subprocess.run([*git, "add", "."], check=True)
        subprocess.run([*git, "commit", "-qm", "base"], check=True)
        results: dict[float, list[tuple[str, float]]] = {0.0: [], 0.10: [], 0.25: []}
        for n, slowdown in enumerate(order, 1):
            ds.write_text(DATASET.format(work=int(BASE_WORK * (1 + slowdown)), length=args.length))
            t0 = time.perf_counter()
            cmd = [sys.executable, "-m", "dltune", "--quiet", "check", "pipeline.py", "--against", "HEAD"]
            r = subprocess.run(
                [*cmd, "--json", *shlex.split(args.flags)], cwd=repo, capture_output=True, text=True
            )
            wall = time.perf_counter() - t0
            if r.returncode not in (0, 1):
                print(f"check {n} failed (exit {r.returncode}): {r.stderr[-2000:]}", flush=True)
                continue
            out = json.loads(r.stdout)
            results[slowdown].append((out["verdict"], wall))
            ratios = ", ".join(
                f"{v['key']} {v['comparison']['ratio']:.3f} {v['verdict']}" if v["comparison"] else v["key"]
                for v in out["verdicts"]
            )
            label = "A/A" if slowdown == 0 else f"+{slowdown:.0%} work"
            print(f"[{n}/{len(order)}] {label}: {out['verdict']} in {wall:.0f} s ({ratios})", flush=True)
    print()
    for slowdown, rs in results.items():
        if not rs:
            continue
        counts = Counter(v for v, _ in rs)
        label = "A/A (no change)" if slowdown == 0 else f"work +{slowdown:.0%}"
        print(
            f"{label:<16} checks {len(rs):>3}  regression {counts['regression']:>3}  "
            f"inconclusive {counts['inconclusive']:>3}  pass {counts['pass'] + counts['speedup']:>3}  "
            f"median wall {median([w for _, w in rs]):.0f} s"
        )
    walls = [w for rs in results.values() for _, w in rs]
    print(
        f"wall time of one check (defaults{', ' + args.flags if args.flags else ''}, {args.length} samples): median {median(walls):.0f} s, "
        f"max {max(walls):.0f} s"
    )


if __name__ == "__main__":
    main()
