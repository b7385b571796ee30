"""What dltune costs around the trials: this working tree against a base commit, interleaved.

Each round runs, on both sides in alternating order (A B, then B A):
- **boot**: the preflight of DATASET in a fresh measuring interpreter, timed from the parent once its own
  imports are done: the interpreter's boot, which every sweep trial pays (a fresh one per trial), plus
  the preflight itself (about 0.1 s for the tiny dataset);
- **tune**: ``dltune recommend DATASET --batch-size 64``: the command's wall time, and the overhead of
  its first trial with workers (its duration less its first batch and its window): that trial waits for
  its interpreter to boot unless it booted beforehand. The windows themselves vary with the machine
  (tiny rows: a noisy window runs on to several times its cap), so the wall time spreads more.
It prints per-side medians, the new / base ratio of each, and the spread across rounds. The base side
runs from a temporary git worktree (removed at the end), with the same Python.

    python benchmarks/startup.py [--base 0da6b6d] [--rounds 4] [--dataset benchmarks/datasets/tiny.py]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, median

BOOT = """
import time
from dltune.bench.runner import preflight
from dltune.model import MeasureSettings
t0 = time.perf_counter()
preflight({target!r}, MeasureSettings())
print(time.perf_counter() - t0)
"""


def boot(tree: Path, target: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = BOOT.format(target=target)
    out = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, check=True, capture_output=True)
    return float(out.stdout.split()[-1])


def tune(tree: Path, args: list[str], out: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "dltune", *args, "--out", str(out)],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - t0
    (run_json,) = out.glob("*/run.json")
    run = json.loads(run_json.read_text())
    first = next(t for t in run["trials"] if t["config"]["num_workers"] > 0 and t["metrics"])
    m = first["metrics"]
    return {"wall": wall, "overhead": first["duration_s"] - m["first_batch_s"] - m["window_s"]}


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / median(values)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="0da6b6d", help="the commit to compare with")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--dataset", default=str(ROOT / "benchmarks" / "datasets" / "tiny.py"))
    a = ap.parse_args()
    args = ["recommend", a.dataset, "--batch-size", "64"]
    with tempfile.TemporaryDirectory(prefix="dltune-startup-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(base), a.base], cwd=ROOT, check=True)
        try:
            sides = {"base": base, "new": ROOT}
            got: dict[tuple[str, str], list[dict[str, float]]] = {}
            for r in range(a.rounds):
                order = ["base", "new"] if r % 2 == 0 else ["new", "base"]
                for side in order:
                    got.setdefault((side, "boot"), []).append({"s": boot(sides[side], a.dataset)})
                for side in order:
                    out = Path(tmp) / f"{side}-{r}"
                    got.setdefault((side, "tune"), []).append(tune(sides[side], args, out))
                print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False)
    print(f"{'measure':<26}{'base':>9}{'new':>9}{'new/base':>10}{'spread (base, new)':>22}")
    for cmd, field in (("boot", "s"), ("tune", "wall"), ("tune", "overhead")):
        b = [x[field] for x in got[("base", cmd)]]
        n = [x[field] for x in got[("new", cmd)]]
        name = f"{cmd} {field} s" if field != "s" else f"{cmd} s"
        ratio = median(n) / median(b)
        print(
            f"{name:<26}{median(b):>9.2f}{median(n):>9.2f}{ratio:>10.2f}{spread(b):>11.0%}{spread(n):>11.0%}"
        )


if __name__ == "__main__":
    main()
