"""Renderers for the regression check: terminal table, Markdown, JUnit XML, JSON (pure)."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape, quoteattr

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dltune.regress import INCONCLUSIVE, REGRESSION, SPEEDUP, CheckResult, ConfigVerdict
from dltune.report import markdown as md
from dltune.store import SCHEMA_VERSION, to_json

ICON = {"pass": "✅ pass", REGRESSION: "❌ regression", INCONCLUSIVE: "⚠️ inconclusive", SPEEDUP: "🚀 speedup"}


def _cells(v: ConfigVerdict) -> list[str]:
    c = v.comparison
    base = f"{sorted(v.baseline)[len(v.baseline) // 2]:,.0f}" if v.baseline else "-"
    cand = f"{sorted(v.candidate)[len(v.candidate) // 2]:,.0f}" if v.candidate else "-"
    change = f"{c.ratio - 1:+.1%}" if c else "-"
    interval = f"{c.ratio_low - 1:+.1%} .. {c.ratio_high - 1:+.1%}" if c else "-"
    p = f"{c.p_slower:.3f}" if c else "-"
    return [v.key, base, cand, change, interval, p]


HEADER = ["configuration", "baseline samples/s", "current samples/s", "change", "interval", "p (slower)"]
"""The interval is 95% against a stored baseline; side by side it is at the deciding look's level (the reason says)."""


def headline(r: CheckResult) -> str:
    how = (
        f"against {r.reference}, measured side by side"
        if r.mode == "against"
        else f"against baseline {r.reference}"
    )
    return f"dltune check of {r.target} {how}: {r.verdict.upper()} (threshold {r.threshold:.0%}, alpha {r.alpha})"


def terminal(r: CheckResult) -> RenderableType:
    t = Table(title=headline(r), title_justify="left")
    for i, h in enumerate([*HEADER, "verdict"]):
        t.add_column(h, justify="left" if i in (0, 6) else "right")
    for v in r.verdicts:
        style = {"regression": "red", "inconclusive": "yellow", "speedup": "cyan"}.get(v.verdict, "green")
        t.add_row(*_cells(v), Text(v.verdict, style=style))
    lines = [Text(f"{v.key}: {v.reason}") for v in r.verdicts] + [
        Text(f"note: {n}", style="yellow") for n in r.notes
    ]
    return Group(t, *lines)


def markdown(r: CheckResult) -> str:
    out = [
        f"### {ICON.get(r.verdict, r.verdict)}: {md.text(headline(r))}",
        "",
        "| " + " | ".join([*HEADER, "verdict"]) + " |",
        "|" + "---|" * (len(HEADER) + 1),
    ]
    out += ["| " + " | ".join([*_cells(v), ICON.get(v.verdict, v.verdict)]) + " |" for v in r.verdicts]
    out.append("")
    out += [f"- {md.code(v.key)}: {md.text(v.reason)}" for v in r.verdicts]
    out += [f"- note: {md.text(n)}" for n in r.notes]
    return "\n".join(out) + "\n"


def junit(r: CheckResult) -> str:
    failures = sum(v.verdict == REGRESSION for v in r.verdicts)
    skipped = sum(v.verdict == INCONCLUSIVE for v in r.verdicts)
    cases = []
    for v in r.verdicts:
        body = ""
        if v.verdict == REGRESSION:
            body = f"<failure message={quoteattr(v.reason)}>{escape(v.reason)}</failure>"
        elif v.verdict == INCONCLUSIVE:
            body = f"<skipped message={quoteattr(v.reason)}/>"
        cases.append(f'  <testcase classname="dltune.check" name={quoteattr(v.key)}>{body}</testcase>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuite name="dltune check" tests="{len(r.verdicts)}" failures="{failures}" skipped="{skipped}">\n'
        + "\n".join(cases)
        + "\n</testsuite>\n"
    )


def as_json(r: CheckResult) -> str:
    """The check's result for --json: every verdict with its statistics, the overall verdict, the kind."""
    doc = {**to_json(r), "verdict": r.verdict, "kind": "dltune.check", "schema_version": SCHEMA_VERSION}
    return json.dumps(doc, indent=1, default=str)
