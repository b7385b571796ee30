"""How often the race and the report's tie rule choose well, simulated (pure: no loader, no torch workers).

The race (dltune.bench.confirm.race) and the choice (dltune.recommend.recommend) run unchanged on trials
whose rates are drawn around known true rates: log-normal noise of the measured race-trial spread, plus
slow spells (a trial reads 10-25% low now and then, as on the shared development VM). Each scenario is
taken from measured cases (benchmarks/race_windows.py, find_best.py): the true rates of the race's
candidates, the trial spread, and which candidate is the cheapest.

Prints, per scenario: the mean and 5th percentile of chosen/best (true rates), how often the choice gives
up more than 5%, how often the cheapest candidate (fewest workers) is chosen, how often two independent tunes choose configurations within 3% of each other (the
repeat goal), and the mean number of rounds.

    python benchmarks/race_choices.py [SIMULATIONS]      # 2000 by default, a few seconds each scenario
"""

from __future__ import annotations

import dataclasses
import math
import random
import statistics
import sys

import _common  # noqa: F401  (puts the repository on the path; a stopped benchmark unwinds)

from dltune.bench.confirm import race
from dltune.model import LoaderConfig, MeasureSettings, TrialResult
from dltune.model.trace import Search
from dltune.recommend import recommend
from tests.synthetic import run, trial  # synthetic trials and runs, as the choice's unit tests build them

SCENARIOS: dict[str, tuple[dict[int, float], float, str]] = {
    # workers -> true rate; log spread of one race trial; where the numbers come from
    "latency w24/w32/w64": ({24: 0.917, 32: 1.0, 64: 0.995}, 0.05, "race_windows latency 24-2,32-2: 1.09"),
    "image flat w2/w4": ({2: 1.0, 4: 0.99}, 0.09, "race_windows image: 9-11% spread, level"),
    "mixed w8/w16": ({8: 0.91, 16: 1.0}, 0.05, "find_best mixed side by side: w8 1,120, w16 1,238"),
    "close pair 4%": ({4: 0.96, 6: 1.0}, 0.06, "a cheaper candidate 4% behind"),
}
SPELL_P, SPELL_LOW = 0.08, (0.10, 0.25)
TRIAL_S = 5.0


@dataclasses.dataclass
class SimRecorder:
    """Stands in for dltune.bench.recorder.Recorder: a trial's rate is its true rate times noise."""

    truth: dict[str, float]
    sd: float
    rng: random.Random
    trials: list[TrialResult] = dataclasses.field(default_factory=list)

    def measure(self, cfg: LoaderConfig, settings: MeasureSettings, role: str, **_: object) -> TrialResult:
        noise = self.rng.gauss(0.0, self.sd)
        if self.rng.random() < SPELL_P:
            noise -= self.rng.uniform(*SPELL_LOW)
        t = trial(cfg.num_workers, self.truth[cfg.key()] * math.exp(noise), role=role)
        t = dataclasses.replace(t, key=cfg.key(), config=cfg, duration_s=TRIAL_S)
        self.trials.append(t)
        return t


def one_tune(truth_w: dict[int, float], sd: float, rng: random.Random) -> tuple[float, int, str, bool]:
    """One race and choice: (chosen's true rate / best true rate, rounds, why the race ended, whether the
    cheapest candidate was chosen)."""
    configs = [
        LoaderConfig(num_workers=w, batch_size=64, prefetch_factor=2, persistent_workers=True)
        for w in truth_w
    ]
    truth = {c.key(): truth_w[c.num_workers] for c in configs}
    rec = SimRecorder(truth, sd, rng)
    record = race(rec, configs, MeasureSettings(), max_rounds=4, budget_s=1e9)  # type: ignore[arg-type]
    result = dataclasses.replace(run(*rec.trials, cores=2), search=Search(race=record))
    chosen = recommend(result).chosen
    cheapest = chosen.workers == min(truth_w)
    return truth[chosen.key] / max(truth.values()), record.rounds, record.ended, cheapest


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rng = random.Random(20261127)
    print(f"{n} simulated tunes per scenario; slow spells: {SPELL_P:.0%} of trials read 10-25% low\n")
    print(
        f"{'scenario':<22} {'trial sd':>8} {'mean':>6} {'p5':>6} {'<0.95':>6} {'repeat':>7} {'rounds':>7} {'cheapest':>8}  {'ended (share; mean chosen/best)':<40}  source"
    )
    for name, (truth_w, sd, source) in SCENARIOS.items():
        got = [one_tune(truth_w, sd, rng) for _ in range(n)]
        ratios = [g[0] for g in got]
        pairs = zip(ratios[::2], ratios[1::2], strict=False)
        repeat = statistics.mean(1.0 if abs(a - b) <= 0.03 * max(a, b) else 0.0 for a, b in pairs)
        p5 = sorted(ratios)[len(ratios) // 20]
        ends = sorted({g[2] for g in got})
        ended = ", ".join(
            f"{e} {sum(g[2] == e for g in got) / n:.0%}; {statistics.mean(g[0] for g in got if g[2] == e):.3f}"
            for e in ends
        )
        print(
            f"{name:<22} {sd:>8.2f} {statistics.mean(ratios):>6.3f} {p5:>6.3f} "
            f"{statistics.mean(r < 0.95 for r in ratios):>6.1%} {repeat:>7.1%} "
            f"{statistics.mean(g[1] for g in got):>7.2f} {statistics.mean(g[3] for g in got):>8.0%}  {ended:<40}  {source}"
        )


if __name__ == "__main__":
    main()
