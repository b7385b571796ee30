"""Does a tuning trial read what a long run reads? Tuning's trial window vs find_best's steady window, interleaved.

Each configuration is measured in each round twice, back to back: as tuning measures it (a trial in a
fresh interpreter with tuning's screening window: workers x min(prefetch, 2) batches skipped, then
precision-driven within a 3 s cap, at least 3 rounds of ``num_workers`` batches) and as find_best's
verdict does (a raw DataLoader in this process: every batch buffered at start-up and one more round
skipped, then >= 6 s and 6 rounds, whole short epochs). Rounds rotate the order. It prints every reading,
then each configuration's rate relative to the first one's in the same round, by both methods: where the
two columns disagree, tuning ranks that pipeline on something other than its long-run rate.

    python benchmarks/trial_vs_steady.py bursty 14-2,32-2,45-4,64-4 2
    python benchmarks/trial_vs_steady.py image 2-2,4-2,8-4 3
"""

from __future__ import annotations

import sys
import warnings

from find_best import raw_rate
from warm_probe import PATHS

from dltune.bench.child import WatchedProcess
from dltune.bench.space import load_space
from dltune.bench.trial import run_trial
from dltune.bench.tune import screen_settings
from dltune.engine.dataset_file import load_dataset
from dltune.model import LoaderConfig

warnings.filterwarnings("ignore")
BATCH = 64


def main() -> None:
    name, listed, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 2
    path = str(PATHS[name])
    configs = [tuple(int(x) for x in c.split("-")) for c in listed.split(",")]
    spec = load_dataset(path)
    _, settings = load_space("default")
    short = screen_settings(settings)
    trial: dict[tuple[int, ...], list[float]] = {c: [] for c in configs}
    steady: dict[tuple[int, ...], list[float]] = {c: [] for c in configs}
    with WatchedProcess() as process:
        for r in range(rounds):
            for c in configs[r % len(configs) :] + configs[: r % len(configs)]:
                w, pf = c
                cfg = LoaderConfig(
                    num_workers=w, batch_size=BATCH, prefetch_factor=pf, persistent_workers=True
                )
                t = run_trial(path, cfg, short, process=process)
                trial[c].append(t.rate)
                steady[c].append(raw_rate(spec, w, pf, BATCH, steady=True))
                m = t.metrics
                window = f"{m.batches} batches, {m.window_s:.1f} s window" if m else t.status
                print(
                    f"round {r} w{w}-pf{pf}: trial {t.rate:,.0f}/s ({window}, {t.duration_s:.0f} s)"
                    f"  steady {steady[c][-1]:,.0f}/s",
                    flush=True,
                )
    base = configs[0]
    print(f"\nrelative to w{base[0]}-pf{base[1]} in the same round (trial | steady):")
    for c in configs:
        tr = " ".join(f"{a / b:.2f}" for a, b in zip(trial[c], trial[base], strict=True))
        st = " ".join(f"{a / b:.2f}" for a, b in zip(steady[c], steady[base], strict=True))
        print(f"  w{c[0]}-pf{c[1]}: {tr} | {st}")


if __name__ == "__main__":
    main()
