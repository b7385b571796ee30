"""Sentences and rows shared by every recommendation renderer (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from dltune.model import ConfigStat, Recommendation, Search
from dltune.units import human_bytes


def pm(s: ConfigStat) -> str:
    return f"±{(s.high - s.rate) / s.rate:.0%}" if s.rate else ""


def headline(rec: Recommendation) -> str:
    c = rec.chosen
    return f"{c.rate:,.0f} samples/s ({pm(c)}, 95% interval) with {c.config.label()}"


def gains(rec: Recommendation) -> list[str]:
    out = []
    if rec.defaults is not None and rec.speedup_vs_defaults is not None:
        same = " (it is the default)" if rec.defaults.key == rec.chosen.key else ""
        out.append(
            f"{rec.speedup_vs_defaults:.2f}x DataLoader's defaults (num_workers=0: "
            f"{rec.defaults.rate:,.0f} samples/s){same}"
        )
    if rec.cores_rule is not None and rec.speedup_vs_cores_rule is not None:
        every = "every rank with " if rec.node else ""
        out.append(
            f"{rec.speedup_vs_cores_rule:.2f}x {every}the num_workers = cores rule ({rec.usable_cores} workers: "
            f"{rec.cores_rule.rate:,.0f} samples/s)"
        )
    if rec.best.key != rec.chosen.key:
        out.append(
            f"the fastest measured, {rec.best.config.label()} at {rec.best.rate:,.0f} samples/s, is within "
            "measurement noise: the cheaper configuration was chosen"
        )
    if rec.memory_per_worker:
        out.append(
            f"memory: {human_bytes(rec.chosen.memory)} in all, about {human_bytes(rec.memory_per_worker)} per worker"
        )
    if rec.step_ms and rec.chosen.stall_fraction is not None:
        verdict = "keeps up with" if rec.keeps_up else "does NOT keep up with"
        out.append(
            f"with a {rec.step_ms:g} ms training step the loader {verdict} training: "
            f"{rec.chosen.stall_fraction:.0%} of the loop is spent waiting on data"
        )
    return out


def scaling_rows(rec: Recommendation) -> list[list[str]]:
    rows = []
    for p in rec.scaling:
        ideal = f"{p.ideal:,.0f}" if p.ideal else "-"
        eff = f"{p.rate / p.ideal:.0%}" if p.ideal else "-"
        rows.append([str(p.workers), f"{p.rate:,.0f}", ideal, eff])
    return rows


def top_rows(rec: Recommendation, limit: int = 8) -> list[list[str]]:
    rows = []
    for s in rec.ranked[:limit]:
        mark = (
            "chosen"
            if s.key == rec.chosen.key
            else ("tie" if s.key in rec.ties else s.role if s.role != "sweep" else "")
        )
        rows.append(
            [
                s.config.label(),
                f"{s.rate:,.0f}",
                pm(s),
                human_bytes(s.memory),
                f"{s.cpu_pct:.0f}%",
                mark,
            ]
        )
    return rows


def machine_line(rec: Recommendation) -> str:
    hw = rec.hardware
    if hw is None:
        return f"{rec.usable_cores} usable CPUs"
    gpu = ", ".join(g.name for g in hw.gpus) or "no GPU"
    return (
        f"{hw.cpu.usable} usable CPUs ({hw.cpu.model or 'unknown model'}), "
        f"{human_bytes(hw.memory.total)} RAM, /dev/shm {human_bytes(hw.memory.shm_total)}, {gpu}; "
        f"torch {hw.torch or '?'}"
    )


def tuned_line(rec: Recommendation) -> str | None:
    if not rec.tuned:
        return None
    trials, grid = rec.tuned.trials, rec.tuned.grid_size
    if trials >= grid:
        return (
            f"tuned adaptively: {trials} trials; the planned grid had {grid} configurations and the search "
            "went past it (more workers, or side-by-side repeats)"
        )
    return (
        f"tuned adaptively: {trials} trials instead of the grid's {grid} "
        "configurations (`dltune bench` measures the whole grid)"
    )


def prediction_rows(rec: Recommendation) -> list[list[str]]:
    return [
        [
            p.key,
            f"{p.predicted:,.0f}",
            f"{p.measured:,.0f}",
            f"{p.error:+.0%}" if p.error is not None else "-",
            p.bound,
        ]
        for p in rec.predictions
    ]


PREDICTION_HEADER = ["configuration", "predicted samples/s", "measured", "error", "predicted bound"]


RACE_HEADER = ["configuration", "side-by-side trials", "median samples/s", "vs winner", ""]


def race_rows(rec: Recommendation) -> list[list[str]]:
    """The side-by-side race that settled the close candidates (empty when there was none)."""
    race = rec.search.race if rec.search else None
    if not race:
        return []
    rates = race.rates

    def median(v: Sequence[float]) -> float:
        s = sorted(v)
        return (s[(len(s) - 1) // 2] + s[len(s) // 2]) / 2 if s else 0.0

    top = median(rates[race.winner]) or 1.0
    labels = {s.key: s.config.label() for s in rec.ranked}
    rows = []
    for key in sorted(rates, key=lambda k: -median(rates[k])):
        mark = "winner" if key == race.winner else "kept (within noise)" if key in race.alive else "dropped"
        rows.append(
            [
                labels.get(key, key),
                str(len(rates[key])),
                f"{median(rates[key]):,.0f}",
                f"{median(rates[key]) / top:.2f}",
                mark,
            ]
        )
    return rows


def race_line(rec: Recommendation) -> str | None:
    race = rec.search.race if rec.search else None
    if not race:
        return None
    why = {
        "decided": "once the answer was decided",
        "close": "once choosing between them was expected to cost under 1% (the rest within noise of the winner)",
        "budget": "when another round would have cost more than the search before it (the rest still within noise of the winner)",
        "rounds": "at its round cap (the rest still within noise of the winner)",
    }.get(race.ended)
    labels = {s.key: s.config.label() for s in rec.ranked}
    joined = (
        f"; {', '.join(labels.get(k, k) for k in race.joined)} joined from the second round: the first read the "
        "candidates far enough below their screens to bring it within reach"
        if race.joined
        else ""
    )
    return (
        f"{len(race.candidates)} candidates too close to rank from separate trials were measured again "
        f"side by side, interleaved, for {race.rounds} rounds" + (f", stopping {why}" if why else "") + joined
    )


def search_notes(rec: Recommendation) -> list[str]:
    """Where the search stopped and why, time per stage, an interrupted run: what the user should know."""
    search = rec.search or Search()
    out = list(search.notes)
    if search.ceiling:
        out.append(
            f"the worker search could go up to {search.ceiling.workers} workers ({search.ceiling.limit})"
        )
    if search.stages:
        out.append(
            "time per stage: "
            + ", ".join(f"{s.stage} {s.seconds:.0f} s ({s.trials} trials)" for s in search.stages)
        )
    if rec.incomplete:
        out.append(
            "the run was interrupted: configurations it planned were not measured (resume it with --resume)"
        )
    return out


NODE_HEADER = ["rank", "node", "samples/s", "95%", "wait p50", "wait p99", "CPU", "memory", "shard"]


def node_title(rec: Recommendation) -> str:
    n = rec.node
    assert n is not None
    machines = f" on each of {n.nnodes} machines" if n.nnodes > 1 else ""
    return (
        f"For the node: {n.nproc_per_node} ranks{machines}, each with its own DataLoader, measured together"
    )


def node_rows(rec: Recommendation) -> list[list[str]]:
    """Each rank's figures for the chosen configuration, slowest marked."""
    n = rec.node
    if n is None:
        return []
    rows = []
    for r in sorted(n.ranks, key=lambda r: r.rank):
        m = r.metrics
        if m is None:
            continue
        half = (m.samples_per_s_high - m.samples_per_s_low) / 2 / m.samples_per_s if m.samples_per_s else 0
        rows.append(
            [
                f"{r.rank}{' (slowest)' if r.rank == n.figures.slowest_rank else ''}",
                f"{r.node} {r.host}",
                f"{m.samples_per_s:,.0f}",
                f"±{half:.0%}",
                f"{m.wait_p50_ms:.1f} ms",
                f"{m.wait_p99_ms:.1f} ms",
                f"{m.cpu_main_pct + m.cpu_workers_pct:.0f}%",
                human_bytes(m.peak_pss_total),
                "-" if r.shard_len is None else f"{r.shard_len:,}",
            ]
        )
    return rows
