"""A self-contained HTML report: the recommendation, its reasons, tables and inline SVG plots (pure)."""

from __future__ import annotations

from html import escape

from dltune.model import Recommendation
from dltune.report import plots
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

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em} h2{font-size:1.15em;margin-top:1.6em}
pre{background:#f4f6f8;padding:.8em;border-radius:6px;overflow-x:auto}
table{border-collapse:collapse;margin:.5em 0} td,th{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:right}
td:first-child,th:first-child{text-align:left} .headline{font-size:1.25em;color:#176b2c;font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:1em} .plots figure{margin:0;flex:1 1 480px} svg{max-width:100%;height:auto}
.dim{color:#777;font-size:.9em}
"""


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"


def render(rec: Recommendation) -> str:
    b = rec.bottleneck
    figures = [
        ("Throughput vs workers, per batch size, against the ideal line", plots.throughput_vs_workers(rec)),
        ("Peak memory vs workers", plots.memory_vs_workers(rec)),
        ("Throughput vs memory, with the Pareto front", plots.throughput_vs_memory(rec)),
    ]
    figs = "".join(f"<figure>{svg}<figcaption>{escape(cap)}</figcaption></figure>" for cap, svg in figures)
    scaling = ""
    if rec.scaling:
        scaling = f"<h2>Scaling over workers (batch size {rec.chosen.batch_size})</h2>" + _table(
            ["workers", "samples/s", "ideal", "of ideal"], scaling_rows(rec)
        )
    model = ""
    if rec.predictions:
        model = f"<h2>Model: predicted vs measured</h2><p>{escape(tuned_line(rec) or '')}</p>" + _table(
            PREDICTION_HEADER, prediction_rows(rec)
        )
    if race_rows(rec):
        model = (
            f"<h2>Settled side by side</h2><p>{escape(race_line(rec) or '')}</p>"
            + _table(RACE_HEADER, race_rows(rec))
            + model
        )
    if search_notes(rec):
        model += "<h2>How the search went</h2>" + _list(search_notes(rec))
    extra = ""
    if rec.excluded or rec.failures:
        extra = "<h2>Excluded and failed</h2>" + _list(
            [f"excluded: {e}" for e in rec.excluded] + [f"failed: {f}" for f in rec.failures]
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dltune: {escape(rec.target)}</title>
<style>{STYLE}</style></head><body>
<h1>dltune recommendation for <code>{escape(rec.target)}</code></h1>
<p class="headline">{escape(headline(rec))}</p>
<pre><code>{escape(rec.code)}</code></pre>
{_list(gains(rec))}
<h2>Why: {escape(b.summary)}</h2>
<p>Bottleneck: <b>{escape(b.kind)}</b></p>
{_list(b.evidence)}
{"<h2>Next steps</h2>" + _list(b.next_steps) if b.next_steps else ""}
<div class="plots">{figs}</div>
{scaling}
{model}
<h2>Measured configurations</h2>
{_table(["configuration", "samples/s", "95%", "memory", "CPU", ""], top_rows(rec, limit=20))}
{extra}
<p class="dim">{rec.considered} configurations considered from run {escape(rec.run)} on {escape(machine_line(rec))}.</p>
</body></html>
"""
