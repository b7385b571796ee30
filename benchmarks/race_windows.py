"""How long should a race trial's window be? Race trials at several window precisions, interleaved.

A race ranks its candidates from repeated trials (dltune.race pools their spread), not from one trial's own
interval, so a race trial's window needs only as much precision as makes repeats cheap to pool: what the race
pays for a given certainty is (spread of one trial)^2 x (seconds a trial takes). Each round measures every
configuration once at every precision, in an order that rotates from round to round (so drift of the
machine lands on all alike), as tuning's race measures it (a trial in a reused interpreter, screening
settings with the precision replaced). It prints, per precision: the median trial seconds, the pooled
spread of log rate across rounds (within configuration), their product against the first precision's, and
each configuration's median rate relative to the first configuration's (a shorter window must not reorder).

    python benchmarks/race_windows.py image 2-2,4-2 0.04,0.08,0 8
    python benchmarks/race_windows.py latency 32-2,64-2 0.04,0.08,0 6
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import sys
import warnings

from warm_probe import PATHS

from dltune.bench.child import WatchedProcess
from dltune.bench.space import load_space
from dltune.bench.trial import run_trial
from dltune.bench.tune import screen_settings
from dltune.model import LoaderConfig
from dltune.race import noise_sd

warnings.filterwarnings("ignore")
BATCH = 64


def main() -> None:
    name, listed, precisions_arg = sys.argv[1], sys.argv[2], sys.argv[3]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 6
    path = str(PATHS[name])
    configs = [tuple(int(x) for x in c.split("-")) for c in listed.split(",")]
    precisions = [float(p) for p in precisions_arg.split(",")]
    _, settings = load_space("default")
    short = screen_settings(settings)
    cells = [(c, p) for c in configs for p in precisions]
    rates: dict[tuple[tuple[int, ...], float], list[float]] = {cell: [] for cell in cells}
    seconds: dict[tuple[tuple[int, ...], float], list[float]] = {cell: [] for cell in cells}
    with WatchedProcess() as process:
        for r in range(rounds):
            k = r % len(cells)
            for (w, pf), p in cells[k:] + cells[:k]:
                cfg = LoaderConfig(
                    num_workers=w, batch_size=BATCH, prefetch_factor=pf, persistent_workers=True
                )
                t = run_trial(path, cfg, dataclasses.replace(short, precision=p), process=process)
                rates[((w, pf), p)].append(t.rate)
                seconds[((w, pf), p)].append(t.duration_s)
                m = t.metrics
                window = f"{m.batches} b, {m.window_s:.1f} s window" if m else t.status
                print(
                    f"round {r} w{w}-pf{pf} precision {p}: {t.rate:,.0f}/s ({window}, {t.duration_s:.1f} s)",
                    flush=True,
                )
    base_cost = None
    print(
        f"\n{name}, {rounds} rounds; per precision: median trial s, pooled log spread, cost vs first, rates vs w{configs[0][0]}"
    )
    for p in precisions:
        trial_s = statistics.median(s for c in configs for s in seconds[(c, p)])
        sd = noise_sd({str(c): rates[(c, p)] for c in configs})
        cost = sd * sd * trial_s
        base_cost = base_cost or cost
        first = statistics.median(rates[(configs[0], p)])
        rel = ", ".join(f"w{c[0]}-pf{c[1]} {statistics.median(rates[(c, p)]) / first:.3f}" for c in configs)
        print(
            f"  precision {p:<5} {trial_s:5.1f} s  sd {sd:.3f} ({math.exp(sd) - 1:.1%})  cost x{cost / base_cost:.2f}  {rel}"
        )


if __name__ == "__main__":
    main()
