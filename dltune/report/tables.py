"""Terminal renderers (rich renderables; pure: data in, renderable out)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from rich.table import Table
from rich.text import Text

from dltune.model import Pruned, TrialResult
from dltune.model.hardware import HardwareFacts
from dltune.units import human_bytes


def probe_table(hw: HardwareFacts) -> Table:
    t = Table(title="This machine", show_header=False, title_justify="left")
    t.add_column("what", style="bold")
    t.add_column("value")
    c, m = hw.cpu, hw.memory
    quota = f"{c.quota:g} CPUs" if c.quota is not None else "none"
    t.add_row(
        "usable CPUs",
        f"{c.usable}  (affinity {c.affinity}, cgroup quota {quota}, logical {c.logical}, "
        f"physical {c.physical or '?'})",
    )
    if c.model:
        t.add_row("CPU model", c.model)
    limit = f", cgroup limit {human_bytes(m.cgroup_limit)}" if m.cgroup_limit else ""
    t.add_row("RAM", f"{human_bytes(m.usable_available)} available of {human_bytes(m.usable_total)}{limit}")
    t.add_row("swap", f"{human_bytes(m.swap_free)} free of {human_bytes(m.swap_total)}")
    t.add_row("/dev/shm", f"{human_bytes(m.shm_free)} free of {human_bytes(m.shm_total)}")
    t.add_row("open files", f"{m.open_files_soft} (hard {m.open_files_hard})")
    if not hw.gpus:
        t.add_row("GPU", "none" + (f" ({hw.notes[0]})" if hw.notes else ""))
    for g in hw.gpus:
        link = ""
        if g.pcie_gen:
            link = f", PCIe gen {g.pcie_gen}/{g.pcie_gen_max} x{g.pcie_width}/{g.pcie_width_max}"
            if g.link_gbps:
                link += f" = {g.link_gbps:.1f} GB/s theoretical"
        t.add_row(f"GPU {g.index}", f"{g.name}, {human_bytes(g.memory_total)}{link}")
        for r in g.h2d:
            t.add_row(
                "  host->device",
                f"{human_bytes(r.size_bytes)}: pinned {r.pinned_gbps:.1f} GB/s, "
                f"pageable {r.pageable_gbps:.1f} GB/s",
            )
    t.add_row("torch / python", f"{hw.torch} / {hw.python}; start methods {', '.join(hw.start_methods)}")
    for note in hw.notes[1:]:
        t.add_row("note", note)
    return t


def ranked(trials: Iterable[TrialResult]) -> list[TrialResult]:
    """Successful trials by throughput (best first), then the failures."""
    trials = list(trials)
    ok = sorted((t for t in trials if t.ok), key=lambda t: -t.metrics.samples_per_s)  # type: ignore[union-attr]
    return ok + [t for t in trials if not t.ok]


def trials_panel(trials: Sequence[TrialResult], title: str, limit: int | None = None) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("configuration", no_wrap=True)
    for col in ("samples/s", "±95%", "1st batch", "wait p99", "CPU", "memory"):
        t.add_column(col, justify="right", no_wrap=True)
    t.add_column("note")
    rows = ranked(trials)
    for tr in rows[:limit] if limit else rows:
        label = tr.config.label()
        if tr.ok and tr.metrics:
            m = tr.metrics
            rel = (m.samples_per_s_high - m.samples_per_s) / m.samples_per_s if m.samples_per_s else 0.0
            t.add_row(
                label,
                f"{m.samples_per_s:,.0f}",
                f"{rel:.0%}",
                f"{m.first_batch_s:.2f}s",
                f"{m.wait_p99_ms:.0f}ms",
                f"{m.cpu_main_pct + m.cpu_workers_pct:.0f}%",
                human_bytes(m.peak_pss_total),
                tr.role if tr.role != "sweep" else "",
            )
        else:
            t.add_row(
                label,
                "-",
                "-",
                "-",
                "-",
                "-",
                "-",
                Text.assemble((tr.status, "red"), f": {tr.reason or ''}"[:200]),
            )
    return t


def pruned_lines(pruned: Iterable[Pruned]) -> list[str]:
    """Dropped configurations grouped by reason: '12 dropped: <reason> (e.g. w1-b32-...)'."""
    groups: dict[str, list[str]] = defaultdict(list)
    for p in pruned:
        groups[p.reason].append(p.key)
    return [f"{len(keys)} dropped: {reason} (e.g. {keys[0]})" for reason, keys in groups.items()]
