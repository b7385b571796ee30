"""The recommendation in the terminal (rich renderables; pure)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from dltune.model import Recommendation
from dltune.report.words import (
    NODE_HEADER,
    PREDICTION_HEADER,
    RACE_HEADER,
    gains,
    headline,
    machine_line,
    node_rows,
    node_title,
    prediction_rows,
    race_line,
    race_rows,
    scaling_rows,
    search_notes,
    top_rows,
    tuned_line,
)


def _table(title: str, header: list[str], rows: list[list[str]]) -> Table:
    t = Table(title=title, title_justify="left")
    for i, h in enumerate(header):
        t.add_column(h, justify="left" if i == 0 else "right")
    for r in rows:
        t.add_row(*r)
    return t


def render(rec: Recommendation) -> RenderableType:
    b = rec.bottleneck
    parts: list[RenderableType] = [
        Panel(
            Group(
                Text(headline(rec), style="bold green"),
                Syntax(rec.code, "python", word_wrap=True, theme="ansi_light"),
                *[Text(f"• {g}") for g in gains(rec)],
            ),
            title=f"dltune recommends for {rec.target}",
            title_align="left",
        ),
        Text(f"Why: {b.summary} (bottleneck: {b.kind})", style="bold"),
        *[Text(f"  • {e}") for e in b.evidence],
    ]
    if rec.node is not None:
        parts.append(Text(node_title(rec), style="bold"))
        parts.append(Syntax(rec.node.torchrun, "bash", word_wrap=True, theme="ansi_light"))
        parts += [Text(f"  • {w}") for w in rec.node.why]
        parts.append(_table("Per rank (the chosen configuration)", NODE_HEADER, node_rows(rec)))
    if rec.scaling:
        parts.append(
            _table(
                f"Scaling over workers (batch size {rec.chosen.batch_size})",
                ["workers", "samples/s", "ideal", "of ideal"],
                scaling_rows(rec),
            )
        )
    if b.next_steps:
        parts.append(Text("Next steps", style="bold"))
        parts += [Text(f"  • {s}") for s in b.next_steps]
    parts.append(
        _table(
            "Measured configurations",
            ["configuration", "samples/s", "95%", "memory", "CPU", ""],
            top_rows(rec),
        )
    )
    if race_rows(rec):
        parts.append(_table(f"Side-by-side race ({race_line(rec)})", RACE_HEADER, race_rows(rec)))
    if rec.predictions:
        parts.append(
            _table(
                f"Model: predicted vs measured ({tuned_line(rec)})", PREDICTION_HEADER, prediction_rows(rec)
            )
        )
    parts += [Text(f"• {n}", style="yellow") for n in search_notes(rec)]
    parts.append(Text(f"{rec.considered} configurations considered; {machine_line(rec)}", style="dim"))
    return Group(*parts)
