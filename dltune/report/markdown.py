"""The recommendation as Markdown: reads well as a pull-request comment (pure)."""

from __future__ import annotations

from dltune.model import Recommendation
from dltune.report.words import (
    PREDICTION_HEADER,
    RACE_HEADER,
    gains,
    headline,
    machine_line,
    prediction_rows,
    race_line,
    race_rows,
    scaling_rows,
    search_notes,
    top_rows,
    tuned_line,
)


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render(rec: Recommendation) -> str:
    b = rec.bottleneck
    lines = [
        f"## dltune recommendation for `{rec.target}`",
        "",
        f"**{headline(rec)}**",
        "",
        "```python",
        rec.code,
        "```",
        "",
        *[f"- {g}" for g in gains(rec)],
        "",
        f"### Why: {b.summary}",
        "",
        f"Bottleneck: **{b.kind}**.",
        "",
        *[f"- {e}" for e in b.evidence],
        "",
    ]
    if rec.scaling:
        lines += [f"### Scaling over workers (batch size {rec.chosen.batch_size})", ""]
        lines += table(
            ["workers", "samples/s", f"ideal ({rec.usable_cores} cores x 1 worker)", "of ideal"],
            scaling_rows(rec),
        )
        lines.append("")
    if b.next_steps:
        lines += ["### Next steps", "", *[f"- {s}" for s in b.next_steps], ""]
    lines += ["### Measured configurations (best first)", ""]
    lines += table(["configuration", "samples/s", "95%", "memory", "CPU", ""], top_rows(rec))
    lines.append("")
    if race_rows(rec):
        lines += ["### Settled side by side", "", f"- {race_line(rec)}", ""]
        lines += table(RACE_HEADER, race_rows(rec))
        lines.append("")
    if search_notes(rec):
        lines += ["### How the search went", "", *[f"- {n}" for n in search_notes(rec)], ""]
    if rec.predictions:
        lines += ["### Model: predicted vs measured", "", f"- {tuned_line(rec)}", ""]
        lines += table(PREDICTION_HEADER, prediction_rows(rec))
        lines.append("")
    if rec.excluded or rec.failures:
        lines += ["<details><summary>Excluded and failed configurations</summary>", ""]
        lines += [f"- excluded: {e}" for e in rec.excluded] + [f"- failed: {f}" for f in rec.failures]
        lines += ["", "</details>", ""]
    lines += [
        f"<sub>{rec.considered} configurations considered from run `{rec.run}` on {machine_line(rec)}.</sub>",
        "",
    ]
    return "\n".join(lines)
