"""dltune check and dltune baseline save: the CI performance regression check."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import Progress, TaskID

from dltune.check import against_baseline, against_ref, make_baseline
from dltune.cli.app import app
from dltune.cli.console import Verbosity, err, out
from dltune.cli.options import ranks_per_node
from dltune.errors import EXIT_INCONCLUSIVE, EXIT_REGRESSION, BenchmarkError, UsageError
from dltune.hardware.facts import probe
from dltune.pyproject import load_check_defaults
from dltune.regress import INCONCLUSIVE, REGRESSION
from dltune.report import check as render
from dltune.store import load_baseline, save_baseline, write_atomic

baseline_app = typer.Typer(
    help="Save the figures `dltune check --baseline` compares against.", no_args_is_help=True
)
app.add_typer(baseline_app, name="baseline")


def _progress() -> Progress:
    return Progress(console=err, transient=True, disable=Verbosity.quiet)


def _tick(prog: Progress, task: TaskID, done: int, total: int) -> None:
    prog.update(task, completed=done, total=total)
    if not (err.is_terminal or Verbosity.quiet):  # CI logs: a plain line per trial, shown as it comes
        err.print(f"[{done}/{total}] trials measured")


def _look(prog: Progress, task: TaskID, spent: float, budget: float, line: str | None) -> None:
    prog.update(task, completed=min(spent, budget), total=budget)
    if line and not Verbosity.quiet:  # a line per look of the sequential test, terminal or CI log
        prog.console.print(f"[{spent:.0f}/{budget:.0f} s] {line}")


@baseline_app.command("save")
def baseline_save(
    dataset: str = typer.Argument(..., help="Dataset file (path/to/file.py[:attr])."),
    output: Path = typer.Option(Path("dltune-baseline.json"), "--out", "-o", help="Baseline file to write."),
    config: str = typer.Option(
        "ci", "--config", "-c", help="Which configurations and settings (configs/ci.toml)."
    ),
    rounds: int | None = typer.Option(None, "--rounds", help="Measurements per configuration."),
    nproc_per_node: str | None = typer.Option(
        None,
        "--nproc-per-node",
        help="Ranks per machine measured together (torchrun's); or auto. `check --baseline` measures the same way.",
    ),
) -> None:
    """Measure the CI configurations several times and save them with hardware facts and versions."""
    hw = probe(h2d=False)
    ranks = ranks_per_node(nproc_per_node, lambda: len(hw.gpus)) or 1
    with _progress() as prog:
        task = prog.add_task("measuring baseline")
        saved = make_baseline(dataset, config, hw, rounds, lambda d, n: _tick(prog, task, d, n), ranks)
    save_baseline(output, saved)
    n = max(len(e.samples) for e in saved.configs)
    err.print(f"Saved {len(saved.configs)} configurations x {n} measurements to {output}")


@app.command()
def check(
    dataset: str | None = typer.Argument(
        None,
        help="Dataset file (path/to/file.py[:attr]); default: `dataset` in [tool.dltune] of pyproject.toml.",
    ),
    baseline: Path | None = typer.Option(None, "--baseline", help="Compare with a saved baseline file."),
    against: str | None = typer.Option(
        None, "--against", help="Compare with the repository at this git ref, side by side."
    ),
    config: str | None = typer.Option(
        None, "--config", "-c", help="Configurations and settings (with --against; default ci)."
    ),
    rounds: int | None = typer.Option(
        None,
        "--rounds",
        help="With --baseline: measurements per configuration. With --against: at most this many ABBA rounds.",
    ),
    max_time: float | None = typer.Option(
        None,
        "--max-time",
        help="With --against: seconds of measuring, all configurations together, before an undecided "
        "configuration is called inconclusive (default 240; 480 with --nproc-per-node).",
    ),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        help="Relative drop that fails (default 0.05 side by side, 0.15 against a stored baseline).",
    ),
    alpha: float | None = typer.Option(
        None, "--alpha", help="Significance level of the one-sided test (0.05)."
    ),
    strict: bool | None = typer.Option(
        None, "--strict/--no-strict", help="Exit 4 when inconclusive; refuse a hardware/version mismatch."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    as_markdown: bool = typer.Option(False, "--markdown", help="Print the result as Markdown."),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML here."),
    nproc_per_node: str | None = typer.Option(
        None,
        "--nproc-per-node",
        help="With --against: ranks per machine, each side measured as a node (torchrun's); or auto. "
        "--baseline measures as the baseline was saved.",
    ),
) -> None:
    """Fail (exit 1) when the data pipeline got slower: beyond the threshold, and significantly.

    Settings not given as flags come from [tool.dltune] in the project's pyproject.toml."""
    project = load_check_defaults()
    if baseline is None and against is None:  # the project's mode, unless a flag picked one
        against = project.against
        baseline = Path(project.baseline) if project.baseline else None
    dataset = dataset or project.dataset
    if dataset is None:
        raise UsageError(
            "no dataset file given", "pass it (dltune check data/dataset.py) or set dataset in [tool.dltune]"
        )
    config = config or project.config or "ci"
    rounds = rounds if rounds is not None else project.rounds
    max_time = max_time if max_time is not None else project.max_time
    threshold = threshold if threshold is not None else project.threshold
    alpha = alpha if alpha is not None else (project.alpha if project.alpha is not None else 0.05)
    strict = strict if strict is not None else bool(project.strict)
    if (baseline is None) == (against is None):
        raise UsageError(
            "give exactly one of --baseline FILE or --against REF",
            "--against origin/main measures old and new side by side (recommended for pull requests)",
        )
    hw = probe(h2d=False)
    if nproc_per_node is None and against is not None and project.nproc_per_node is not None:
        nproc_per_node = str(project.nproc_per_node)
    ranks = ranks_per_node(nproc_per_node, lambda: len(hw.gpus))
    if ranks is not None and baseline is not None:
        raise UsageError(
            "--nproc-per-node goes with --against: --baseline measures as the baseline was saved",
            "drop --nproc-per-node, or save the baseline with it (dltune baseline save --nproc-per-node N)",
        )
    with _progress() as prog:
        task = prog.add_task(escape(f"ABBA: {against} vs working tree") if against else "measuring current")

        def tick(done: int, total: int) -> None:
            _tick(prog, task, done, total)

        def look(spent: float, budget: float, line: str | None) -> None:
            _look(prog, task, spent, budget, line)

        if baseline is not None:
            saved = load_baseline(baseline)
            result = against_baseline(
                dataset, saved, hw, source=str(baseline), rounds=rounds, threshold=threshold,
                alpha=alpha, strict=strict, on_progress=tick,
            )  # fmt: skip
        else:
            assert against is not None
            result = against_ref(
                dataset,
                against,
                config,
                hw,
                rounds=rounds,
                threshold=threshold,
                alpha=alpha,
                max_time=max_time,
                on_progress=look,
                nproc_per_node=ranks or 1,
            )
    if as_json:
        print(render.as_json(result))
    elif as_markdown:
        print(render.markdown(result))
    else:
        out.print(render.terminal(result))
    # the verdict is printed first: a file that cannot be written costs that file, never the result
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:  # the CI's page, not an output the user asked for: a warning when it cannot be written
        try:
            with open(summary, "a") as f:
                f.write(render.markdown(result))
        except OSError as exc:
            err.print(f"Warning: could not append to $GITHUB_STEP_SUMMARY ({summary}): {exc.strerror or exc}")
    if junit is not None:
        try:
            write_atomic(junit, render.junit(result))
        except OSError as exc:
            if result.verdict != REGRESSION:  # a regression's exit 1 says more than a lost file
                raise BenchmarkError(
                    f"could not write --junit {junit}: {exc.strerror or exc}",
                    "check the folder exists and is writable",
                ) from None
            err.print(f"Warning: could not write --junit {junit}: {exc.strerror or exc}")
    if result.verdict == REGRESSION:
        raise typer.Exit(EXIT_REGRESSION)
    if result.verdict == INCONCLUSIVE and strict:
        raise typer.Exit(EXIT_INCONCLUSIVE)
