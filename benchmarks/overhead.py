"""Measurement overhead: dltune's trial vs a bare ``for batch in DataLoader(...)`` loop.

Both run the same configuration in a fresh process, skip the same start-up batches and time the same
number of batches; pairs are interleaved (A B B A ...) and the ratio of medians is printed.
Goal: dltune's measured throughput / bare throughput >= 0.98.

    python benchmarks/overhead.py [--pairs 6] [--batches 64]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _common import EXAMPLES, ROOT, median

from dltune.bench.trial import run_trial
from dltune.model.loader import LoaderConfig
from dltune.model.settings import MeasureSettings

BARE = r"""
import json, sys, time
sys.path.insert(0, {root!r})
from torch.utils.data import DataLoader
from dltune.engine.dataset_file import load_dataset
spec = load_dataset({target!r})
loader = DataLoader(spec.dataset, **{kwargs!r})
skip, n = {skip}, {n}
it = iter(loader)
seen = samples = 0
while True:
    try:
        batch = next(it)
    except StopIteration:
        it = iter(loader)
        continue
    if seen == skip:
        t0 = time.perf_counter()
    elif seen > skip:
        samples += len(batch[0])
        if seen == skip + n:
            break
    seen += 1
print(json.dumps({{"samples_per_s": samples / (time.perf_counter() - t0)}}))
"""


def bare(target: str, cfg: LoaderConfig, skip: int, n: int) -> float:
    code = BARE.format(root=str(ROOT), target=target, kwargs=cfg.loader_kwargs(), skip=skip, n=n)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["samples_per_s"])


def dltune_trial(target: str, cfg: LoaderConfig, n: int) -> float:
    settings = MeasureSettings(min_batches=n, min_seconds=0, max_seconds=600, segments=5)
    r = run_trial(target, cfg, settings)
    assert r.metrics is not None, r.reason
    return r.metrics.samples_per_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=6)
    # whole epochs (32 batches of 32 of the 1000 images): dltune's window spans whole epochs when they are short
    ap.add_argument("--batches", type=int, default=64)
    args = ap.parse_args()
    target = str(EXAMPLES / "image_folder.py")
    cfg = LoaderConfig(batch_size=32, num_workers=2, prefetch_factor=2, persistent_workers=True)
    skip = cfg.num_workers * (cfg.prefetch_factor or 2) + 1  # dltune skips the first + the buffered ones
    a, b = [], []
    for i in range(args.pairs):
        order = ("bare", "dltune") if i % 2 == 0 else ("dltune", "bare")
        for which in order:
            if which == "bare":
                b.append(bare(target, cfg, skip, args.batches))
            else:
                a.append(dltune_trial(target, cfg, args.batches))
        print(f"pair {i + 1}: bare {b[-1]:.0f}/s  dltune {a[-1]:.0f}/s", flush=True)
    ratio = median(a) / median(b)
    print(f"config: {cfg.to_code()}")
    print(f"median samples/s: dltune {median(a):.0f}, bare loop {median(b):.0f}")
    print(
        f"overhead ratio (dltune / bare) = {ratio:.3f}  (goal >= 0.98)  {'PASS' if ratio >= 0.98 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
