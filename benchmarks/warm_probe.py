"""Do quick windows rank configurations the way a long run does? Quick vs steady windows, interleaved.

Each configuration is measured as a raw DataLoader twice per round, back to back: with find_best's quick
window (two rounds of ``num_workers`` batches skipped, then >= 2 s and 3 rounds) and with its steady
window (every batch buffered at start-up and one more round skipped, then >= 6 s and 6 rounds, whole
short epochs). Rounds rotate the order; the script prints every reading and the medians.

    python benchmarks/warm_probe.py image 3-2,4-2,9-2,9-4,16-2 3
    python benchmarks/warm_probe.py bursty 16-2,32-2,48-2,48-4 2
"""

from __future__ import annotations

import statistics
import sys
import warnings

from _common import EXAMPLES, ROOT
from find_best import raw_rate

from dltune.engine.dataset_file import load_dataset

warnings.filterwarnings("ignore")

PATHS = {
    "bursty": ROOT / "benchmarks" / "datasets" / "bursty.py",
    "latency": ROOT / "benchmarks" / "datasets" / "latency.py",
    "image": EXAMPLES / "image_folder.py",
    "text": EXAMPLES / "text.py",
}


def main() -> None:
    case, listed, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 3
    configs = [(int(w), int(pf)) for w, pf in (c.split("-") for c in listed.split(","))]
    spec = load_dataset(str(PATHS[case]))
    readings: dict[tuple[int, int, str], list[float]] = {}
    for r in range(reps):
        for w, pf in configs[r % len(configs) :] + configs[: r % len(configs)]:
            for mode in ("quick", "steady"):
                v = raw_rate(spec, w, pf, 64, steady=mode == "steady")
                readings.setdefault((w, pf, mode), []).append(v)
                print(f"round {r + 1} w{w}-pf{pf} {mode}: {v:,.0f}", flush=True)
    for (w, pf, mode), v in readings.items():
        print(
            f"w{w}-pf{pf} {mode:<6} median {statistics.median(v):,.0f}  ({' '.join(f'{x:,.0f}' for x in v)})"
        )


if __name__ == "__main__":
    main()
