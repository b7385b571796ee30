"""Saving and loading run results: one folder per run, JSON with a schema version, a CSV beside it.

Writes are atomic (temporary file, then rename), so an interrupted save never corrupts a run that
was already on disk.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from dltune.errors import ResultsFileError
from dltune.model import RUN_KIND, SCHEMA_VERSION, RunResult

RUN_FILE = "run.json"
CSV_FILE = "trials.csv"
DEFAULT_ROOT = Path(".dltune/runs")


def new_run_dir(root: Path, name: str, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"
    path = root / f"{stamp}-{slug}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{slug}-{n}"
    path.mkdir(parents=True)
    return path


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def trials_table(run: RunResult) -> Any:
    """One row per trial: its configuration's knobs, status and headline metrics (a pandas DataFrame)."""
    import pandas as pd

    rows = []
    for t in run.trials:
        row: dict[str, Any] = {"key": t.key, "role": t.role, "repeat": t.repeat, "status": t.status}
        for k in (
            "num_workers",
            "batch_size",
            "prefetch_factor",
            "pinning",
            "persistent_workers",
            "multiprocessing_context",
        ):
            row[k] = t.config.get(k)
        if t.metrics:
            m = t.metrics
            row.update(
                samples_per_s=m.samples_per_s,
                ci_low=m.samples_per_s_low,
                ci_high=m.samples_per_s_high,
                cv=m.cv,
                first_batch_s=m.first_batch_s,
                wait_p50_ms=m.wait_p50_ms,
                wait_p99_ms=m.wait_p99_ms,
                cpu_main_pct=m.cpu_main_pct,
                cpu_workers_pct=m.cpu_workers_pct,
                peak_pss_mib=m.peak_pss_total / 2**20,
                stall_fraction=m.stall_fraction,
            )
        row["reason"] = t.reason
        rows.append(row)
    return pd.DataFrame(rows)


def save_run(run: RunResult, folder: Path) -> Path:
    """Write run.json and trials.csv into ``folder``; returns the JSON path."""
    path = folder / RUN_FILE
    write_atomic(path, json.dumps(run.to_dict(), indent=1, default=str))
    write_atomic(folder / CSV_FILE, trials_table(run).to_csv(index=False))
    return path


def read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ResultsFileError(f"{what} {path} does not exist", "check the path") from None
    except OSError as exc:
        raise ResultsFileError(f"cannot read {what} {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsFileError(
            f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}); the file is corrupt or truncated",
            "re-run the benchmark, or restore the file from version control",
        ) from None
    if not isinstance(data, dict):
        raise ResultsFileError(f"{path} holds a JSON {type(data).__name__}, not a dltune {what}")
    return data


def load_run(path: str | Path) -> RunResult:
    """Load a run from its folder or its run.json."""
    p = Path(path)
    if p.is_dir():
        p = p / RUN_FILE
    data = read_json(p, "results file")
    if data.get("kind") != RUN_KIND:
        raise ResultsFileError(
            f"{p} is not a dltune run file (kind={data.get('kind')!r})",
            "pass a folder made by `dltune bench`, e.g. .dltune/runs/<time>-<name>",
        )
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultsFileError(
            f"{p} has schema version {version}; this dltune reads version {SCHEMA_VERSION}",
            "re-run `dltune bench` with this version of dltune",
        )
    try:
        return RunResult.from_dict(data)
    except (TypeError, KeyError, ValueError) as exc:
        raise ResultsFileError(f"{p} is damaged: {exc}", "re-run `dltune bench`") from None


def latest_run(root: Path = DEFAULT_ROOT) -> Path:
    """The most recent run folder under ``root`` that has a run.json."""
    runs = sorted((p for p in root.glob("*") if (p / RUN_FILE).is_file()), key=lambda p: p.name)
    if not runs:
        raise ResultsFileError(
            f"no runs found under {root}", "run `dltune bench DATASET.py` first, or pass --run PATH"
        )
    return runs[-1]


BASELINE_KIND = "dltune.baseline"


def save_baseline(path: Path, data: dict[str, Any]) -> None:
    write_atomic(
        path, json.dumps({"kind": BASELINE_KIND, "schema_version": SCHEMA_VERSION, **data}, indent=1)
    )


def load_baseline(path: Path) -> dict[str, Any]:
    """A baseline file written by `dltune baseline save`; corrupt or foreign files are clear errors."""
    data = read_json(path, "baseline file")
    if data.get("kind") != BASELINE_KIND:
        raise ResultsFileError(
            f"{path} is not a dltune baseline (kind={data.get('kind')!r})",
            "create one with `dltune baseline save DATASET.py`",
        )
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ResultsFileError(
            f"{path} has schema version {data.get('schema_version')}; this dltune reads {SCHEMA_VERSION}",
            "save the baseline again with this dltune",
        )
    configs = data.get("configs")
    if (
        not isinstance(configs, list)
        or not configs
        or not all(
            isinstance(c, dict) and isinstance(c.get("config"), dict) and isinstance(c.get("samples"), list)
            for c in configs
        )
    ):
        raise ResultsFileError(
            f"{path} is damaged: it lists no configurations with samples",
            "save the baseline again with `dltune baseline save`",
        )
    return data
