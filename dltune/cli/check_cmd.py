"""dltune check and dltune baseline save: the CI performance regression check."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.progress import Progress

from dltune import __version__
from dltune.bench.abba import abba, checkout_at, repeat
from dltune.bench.space import DatasetFacts, expand, load_space
from dltune.cli.app import app
from dltune.cli.console import err, out
from dltune.engine.config import LoaderConfig
from dltune.errors import EXIT_INCONCLUSIVE, EXIT_REGRESSION, UsageError
from dltune.hardware.facts import HardwareFacts, probe
from dltune.regress import INCONCLUSIVE, REGRESSION, CheckResult, judge
from dltune.report import check as render
from dltune.store import load_baseline, save_baseline, write_atomic

baseline_app = typer.Typer(
    help="Save the figures `dltune check --baseline` compares against.", no_args_is_help=True
)
app.add_typer(baseline_app, name="baseline")

SAME_JOB_THRESHOLD = 0.05
STORED_THRESHOLD = 0.15  # a stored baseline was measured at another time, maybe on another runner


def _configs(config: str, hw: HardwareFacts) -> list[LoaderConfig]:
    space, _ = load_space(config)
    planned, _ = expand(space, hw, DatasetFacts())
    return [p.config for p in planned if p.role == "sweep"]


def _progress() -> Progress:
    return Progress(console=err, transient=True)


def _mismatches(saved: dict[str, Any], hw: HardwareFacts) -> list[str]:
    now = hw.to_dict()
    notes = []
    for what, a, b in (
        ("usable CPUs", saved.get("cpu", {}).get("usable"), now["cpu"]["usable"]),
        ("CPU model", saved.get("cpu", {}).get("model"), now["cpu"]["model"]),
        ("torch", saved.get("torch"), now["torch"]),
        ("GPUs", [g.get("name") for g in saved.get("gpus", [])], [g["name"] for g in now["gpus"]]),
    ):
        if a != b:
            notes.append(f"{what} differ: baseline {a!r}, now {b!r}")
    return notes


@baseline_app.command("save")
def baseline_save(
    dataset: str = typer.Argument(..., help="Dataset file (path/to/file.py[:attr])."),
    output: Path = typer.Option(Path("dltune-baseline.json"), "--out", "-o", help="Baseline file to write."),
    config: str = typer.Option(
        "ci", "--config", "-c", help="Which configurations and settings (configs/ci.toml)."
    ),
    rounds: int | None = typer.Option(None, "--rounds", help="Measurements per configuration."),
) -> None:
    """Measure the CI configurations several times and save them with hardware facts and versions."""
    hw = probe(h2d=False)
    _, settings = load_space(config)
    configs = _configs(config, hw)
    n = rounds or settings.repeats
    with _progress() as prog:
        task = prog.add_task("measuring baseline", total=n * len(configs))
        samples = repeat(dataset, configs, settings, n, lambda d, t: prog.update(task, completed=d))
    import torch

    save_baseline(
        output,
        {
            "target": dataset,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "hardware": hw.to_dict(),
            "versions": {
                "dltune": __version__,
                "torch": torch.__version__,
                "python": sys.version.split()[0],
                "platform": platform.platform(),
            },
            "settings": settings.to_dict(),
            "configs": [
                {"key": c.key(), "config": c.to_dict(), "samples": samples[c.key()]} for c in configs
            ],
        },
    )
    err.print(f"Saved {len(configs)} configurations x {n} measurements to {output}")


@app.command()
def check(
    dataset: str = typer.Argument(..., help="Dataset file (path/to/file.py[:attr])."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Compare with a saved baseline file."),
    against: str | None = typer.Option(
        None, "--against", help="Compare with the file at this git ref, side by side."
    ),
    config: str = typer.Option("ci", "--config", "-c", help="Configurations and settings (with --against)."),
    rounds: int | None = typer.Option(None, "--rounds", help="ABBA rounds / measurements per configuration."),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        help="Relative drop that fails (default 0.05 side by side, 0.15 against a stored baseline).",
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level of the one-sided test."),
    strict: bool = typer.Option(
        False, "--strict", help="Exit 4 when inconclusive; refuse a hardware/version mismatch."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    as_markdown: bool = typer.Option(False, "--markdown", help="Print the result as Markdown."),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML here."),
) -> None:
    """Fail (exit 1) when the data pipeline got slower: beyond the threshold, and significantly."""
    if (baseline is None) == (against is None):
        raise UsageError(
            "give exactly one of --baseline FILE or --against REF",
            "--against origin/main measures old and new side by side (recommended for pull requests)",
        )
    hw = probe(h2d=False)
    notes: list[str] = []
    if baseline is not None:
        saved = load_baseline(baseline)
        notes = _mismatches(saved.get("hardware", {}), hw)
        if notes and strict:
            raise UsageError(
                f"the baseline was measured elsewhere: {'; '.join(notes)}",
                "save a new baseline on this runner, or drop --strict",
            )
        configs = [LoaderConfig.from_dict(c["config"]) for c in saved["configs"]]
        from dltune.bench.settings import MeasureSettings

        settings = MeasureSettings.from_dict(saved["settings"])
        n = rounds or max(len(c["samples"]) for c in saved["configs"])
        with _progress() as prog:
            task = prog.add_task("measuring current", total=n * len(configs))
            current = repeat(dataset, configs, settings, n, lambda d, t: prog.update(task, completed=d))
        thr = threshold if threshold is not None else STORED_THRESHOLD
        verdicts = [
            judge(c["key"], c["samples"], current[c["key"]], threshold=thr, alpha=alpha, paired=False)
            for c in saved["configs"]
        ]
        result = CheckResult("baseline", dataset, thr, alpha, verdicts, notes, str(baseline))
    else:
        _, settings = load_space(config)
        configs = _configs(config, hw)
        n = rounds or settings.repeats
        assert against is not None
        with checkout_at(dataset, against) as base_target, _progress() as prog:
            task = prog.add_task(f"ABBA: {against} vs working tree", total=2 * n * len(configs))
            a, b = abba(
                base_target, dataset, configs, settings, n, lambda d, t: prog.update(task, completed=d)
            )
        thr = threshold if threshold is not None else SAME_JOB_THRESHOLD
        verdicts = [
            judge(c.key(), a[c.key()], b[c.key()], threshold=thr, alpha=alpha, paired=True) for c in configs
        ]
        result = CheckResult("against", dataset, thr, alpha, verdicts, notes, against)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as f:
            f.write(render.markdown(result))
    if junit is not None:
        write_atomic(junit, render.junit(result))
    if as_json:
        print(render.as_json(result))
    elif as_markdown:
        print(render.markdown(result))
    else:
        out.print(render.terminal(result))
    if result.verdict == REGRESSION:
        raise typer.Exit(EXIT_REGRESSION)
    if result.verdict == INCONCLUSIVE and strict:
        raise typer.Exit(EXIT_INCONCLUSIVE)
