"""The recommendation as Markdown: reads well as a pull-request comment (pure)."""

from __future__ import annotations

import re

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

_INLINE = re.compile(r"([\\`*_\[\]|~])")


def text(s: str) -> str:
    """User text (a file name, an exception message) as literal Markdown inside a line: no emphasis,
    code, links, table cells or HTML (``<`` is an entity). Newlines become spaces."""
    return _INLINE.sub(r"\\\1", " ".join(s.split())).replace("<", "&lt;")


def code(s: str) -> str:
    """User text as an inline code span, whatever backticks it holds."""
    flat = " ".join(s.split())
    fence = "`" * (max((len(m) for m in re.findall(r"`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render(rec: Recommendation) -> str:
    b = rec.bottleneck
    lines = [
        f"## dltune recommendation for {code(rec.target)}",
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
    if rec.node is not None:
        lines += [f"### {node_title(rec)}", "", "```bash", rec.node.torchrun, "```", ""]
        lines += [f"- {text(w)}" for w in rec.node.why] + [""]
        lines += table(NODE_HEADER, node_rows(rec))
        lines.append("")
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
        lines += [f"- excluded: {text(e)}" for e in rec.excluded] + [
            f"- failed: {text(f)}" for f in rec.failures
        ]
        lines += ["", "</details>", ""]
    lines += [
        f"<sub>{rec.considered} configurations considered from run {code(rec.run)} on {text(machine_line(rec))}.</sub>",
        "",
    ]
    return "\n".join(lines)
