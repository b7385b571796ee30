"""Plots for the HTML report, as SVG text (matplotlib, Agg backend; deterministic output)."""

from __future__ import annotations

import io
from collections import defaultdict

from dltune.model import ConfigStat, Recommendation


def _svg(fig: object) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _setup() -> None:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "dltune"  # stable element ids: reproducible reports


def _mark_chosen(ax: object, x: float, y: float) -> None:
    ax.scatter([x], [y], s=160, facecolors="none", edgecolors="red", lw=2, label="chosen", zorder=5)  # type: ignore[attr-defined]


def _finish(ax: object, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)  # type: ignore[attr-defined]
    ax.set_ylabel(ylabel)  # type: ignore[attr-defined]
    ax.set_title(title)  # type: ignore[attr-defined]
    ax.legend(fontsize=8)  # type: ignore[attr-defined]
    ax.grid(alpha=0.3)  # type: ignore[attr-defined]


def _worker_ticks(ax: object, stats: list[ConfigStat]) -> None:
    from matplotlib.ticker import NullFormatter, NullLocator

    ticks = sorted({s.workers for s in stats})
    ax.set_xscale("symlog", linthresh=1)  # type: ignore[attr-defined]
    ax.set_xticks(ticks, [str(t) for t in ticks])  # type: ignore[attr-defined]
    ax.xaxis.set_minor_locator(NullLocator())  # type: ignore[attr-defined]
    ax.xaxis.set_minor_formatter(NullFormatter())  # type: ignore[attr-defined]


def _best_by(stats: list[ConfigStat], value: str) -> dict[int | None, dict[int, float]]:
    """Per batch size: per worker count, the best (rate) or the memory of the fastest configuration."""
    out: dict[int | None, dict[int, tuple[float, float]]] = defaultdict(dict)
    for s in stats:
        cur = out[s.batch_size].get(s.workers)
        if cur is None or s.rate > cur[0]:
            out[s.batch_size][s.workers] = (s.rate, float(s.memory))
    idx = 0 if value == "rate" else 1
    return {bs: {w: v[idx] for w, v in ws.items()} for bs, ws in out.items()}


def throughput_vs_workers(rec: Recommendation) -> str:
    _setup()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for bs, ws in sorted(_best_by(rec.ranked, "rate").items(), key=lambda kv: kv[0] or 0):
        xs = sorted(ws)
        ax.plot(xs, [ws[x] for x in xs], marker="o", label=f"batch {bs}")
    ideal = [(p.workers, p.ideal) for p in rec.scaling if p.ideal]
    if ideal:
        ax.plot(
            [w for w, _ in ideal],
            [v for _, v in ideal],
            "k--",
            lw=1,
            label=f"ideal: min(workers, {rec.usable_cores} cores) x 1 worker",
        )
    ax.axvline(rec.usable_cores, color="grey", lw=0.8, ls=":")
    _mark_chosen(ax, rec.chosen.workers, rec.chosen.rate)
    _worker_ticks(ax, rec.ranked)
    _finish(ax, "num_workers", "samples / s", "Throughput vs workers")
    return _svg(fig)


def memory_vs_workers(rec: Recommendation) -> str:
    _setup()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for bs, ws in sorted(_best_by(rec.ranked, "memory").items(), key=lambda kv: kv[0] or 0):
        xs = sorted(ws)
        ax.plot(xs, [ws[x] / 2**20 for x in xs], marker="s", label=f"batch {bs}")
    _worker_ticks(ax, rec.ranked)
    _finish(ax, "num_workers", "peak memory, PSS (MiB)", "Memory vs workers")
    return _svg(fig)


def pareto_front(stats: list[ConfigStat]) -> list[ConfigStat]:
    """Configurations no other beats on both throughput and memory, by increasing memory."""
    front: list[ConfigStat] = []
    for s in sorted(stats, key=lambda s: (s.memory, -s.rate)):
        if not front or s.rate > front[-1].rate:
            front.append(s)
    return front


def throughput_vs_memory(rec: Recommendation) -> str:
    _setup()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.scatter(
        [s.memory / 2**20 for s in rec.ranked], [s.rate for s in rec.ranked], alpha=0.5, label="measured"
    )
    front = pareto_front(rec.ranked)
    ax.plot(
        [s.memory / 2**20 for s in front], [s.rate for s in front], "g-", marker="o", label="Pareto front"
    )
    _mark_chosen(ax, rec.chosen.memory / 2**20, rec.chosen.rate)
    _finish(ax, "peak memory, PSS (MiB)", "samples / s", "Throughput vs memory")
    return _svg(fig)
