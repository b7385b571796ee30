"""The one place dltune's files become objects and objects become files: runs, baselines, recommendations.

Each file kind carries ``kind`` and ``schema_version``. Reading checks every field against the typed
model (dltune.model) and names the first one that is wrong; older versions are migrated first. Writes
are atomic (temporary file, then rename), so an interrupted save never corrupts what was on disk.

Format history
--------------
- ``dltune.run``
  - 1 (dltune 0.1): sections as plain dicts; ``hardware.gpus[*].link_gbps`` stored (derived);
    early runs lack ``search``, ``space.max_workers``, ``settings.precision``.
  - 2: every section typed (hardware, settings, space, pruned, preflight, trials' configs, tuning,
    search); derived figures are no longer stored; a missing field takes the model's default.
- ``dltune.baseline``: 1 as 2 but untyped; 2 typed (target, created, hardware, versions, settings,
  configs[key, config, samples]).
- ``dltune.recommendation``: 1 as 2 but untyped; 2 typed (``loader`` stays first: the DataLoader
  keyword arguments, for ``jq``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from dltune.errors import BenchmarkError, ResultsFileError
from dltune.model.baseline import Baseline
from dltune.model.codec import SchemaError as SchemaError  # the file layer's API: re-exported
from dltune.model.codec import decode
from dltune.model.codec import from_json as from_json
from dltune.model.codec import to_json as to_json
from dltune.model.loader import LoaderConfig, refuse_code_refs
from dltune.model.recommendation import Recommendation
from dltune.model.results import RunResult

RUN_FILE = "run.json"
CSV_FILE = "trials.csv"
RECOMMENDATION_JSON = "recommendation.json"
DEFAULT_ROOT = Path(".dltune/runs")

RUN_KIND = "dltune.run"
BASELINE_KIND = "dltune.baseline"
RECOMMENDATION_KIND = "dltune.recommendation"
SCHEMA_VERSION = 2
"""The version every kind is written with (they move together)."""

T = TypeVar("T")


# ---------------------------------------------------------------- files --------------------------------


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


def dumps(kind: str, obj: Any, first: Mapping[str, Any] | None = None) -> str:
    """The JSON text of a model object, with its kind and schema version (``first``: keys put first)."""
    body = to_json(obj)
    doc = {**(first or {}), **body, "kind": kind, "schema_version": SCHEMA_VERSION}
    return json.dumps(doc, indent=1, default=str)


def read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ResultsFileError(f"{what} {path} does not exist", "check the path") from None
    except IsADirectoryError:
        raise ResultsFileError(f"{what} {path} is a folder, not a file", "pass the JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsFileError(
            f"cannot read {what} {path}: {exc}", "check the file and its permissions"
        ) from None
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


def _load(
    path: Path,
    what: str,
    kind: str,
    cls: type[T],
    migrations: Mapping[int, Callable[[dict[str, Any]], dict[str, Any]]],
    fix: str,
) -> T:
    data = read_json(path, what)
    if data.get("kind") != kind:
        raise ResultsFileError(f"{path} is not a dltune {what} (kind={data.get('kind')!r})", fix)
    version = data.get("schema_version")
    migrate = migrations.get(version) if isinstance(version, int) else None
    if version != SCHEMA_VERSION and migrate is None:
        raise ResultsFileError(
            f"{path} has schema version {version!r}; this dltune reads versions "
            f"{', '.join(map(str, sorted([*migrations, SCHEMA_VERSION])))}",
            "upgrade dltune to read it, or make the file again with this version",
        )
    if migrate is not None:
        data = migrate(data)
    try:
        return decode(cls, data)
    except SchemaError as exc:
        raise ResultsFileError(f"{path} is damaged: {exc}", fix) from None


# ---------------------------------------------------------------- version 1 -> 2 ----------------------


def _same(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 has version 2's field names: the typed reader checks it field by field, ignores what
    version 2 no longer stores (``link_gbps``, a recommendation's own ``kind`` field) and gives what
    early files lack (``search``, ``precision``, ``max_workers``...) its default."""
    return data


# ---------------------------------------------------------------- runs --------------------------------


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


LOCK_FILE = ".lock"


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the run folder for writing: a second dltune writing into it is refused, not interleaved."""
    path = folder / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ResultsFileError(
                f"another dltune is writing into {folder}",
                "wait for it to finish, or pass a different --out / --resume folder",
            ) from None
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def save_run(run: RunResult, folder: Path) -> Path:
    """Write run.json and trials.csv (the tidy frame, ``run.frame()``) into ``folder``; returns the JSON path."""
    path = folder / RUN_FILE
    try:
        write_atomic(path, run_json(run))
        write_atomic(folder / CSV_FILE, run.frame().to_csv(index=False))
    except OSError as exc:  # disk full, folder removed, read-only: what was saved before stays intact
        raise BenchmarkError(
            f"could not save the run to {folder}: {exc.strerror or exc}",
            "free disk space or pick another --out; the trials saved before this one are in its run.json "
            "(writes are atomic), and --resume continues from them",
        ) from None
    return path


def run_json(run: RunResult) -> str:
    return dumps(RUN_KIND, run)


def load_run(path: str | os.PathLike[str]) -> RunResult:
    """Load a run from its folder or its run.json (schema version 1 or 2)."""
    p = Path(path)
    if p.is_dir():
        p = p / RUN_FILE
    return _load(
        p,
        "results file",
        RUN_KIND,
        RunResult,
        {1: _same},
        "pass a folder made by `dltune bench`, e.g. .dltune/runs/<time>-<name>, or re-run it",
    )


def latest_run(root: Path = DEFAULT_ROOT) -> Path:
    """The most recent run folder under ``root`` that has a run.json."""
    runs = sorted((p for p in root.glob("*") if (p / RUN_FILE).is_file()), key=lambda p: p.name)
    if not runs:
        raise ResultsFileError(
            f"no runs found under {root}", "run `dltune bench DATASET.py` first, or pass --run PATH"
        )
    return runs[-1]


# ---------------------------------------------------------------- baselines ---------------------------


def save_baseline(path: Path, baseline: Baseline) -> None:
    write_atomic(path, dumps(BASELINE_KIND, baseline))


def load_baseline(path: Path) -> Baseline:
    """A baseline file written by `dltune baseline save`; corrupt or foreign files are clear errors."""
    baseline = _load(
        path,
        "baseline file",
        BASELINE_KIND,
        Baseline,
        {1: _same},
        "save the baseline again with `dltune baseline save DATASET.py`",
    )
    if not baseline.configs or not all(c.samples for c in baseline.configs):
        raise ResultsFileError(
            f"{path} is damaged: it lists no configurations with samples",
            "save the baseline again with `dltune baseline save`",
        )
    for entry in baseline.configs:  # the check builds these loaders: the file must not name code
        refuse_code_refs(entry.config, str(path))
    return baseline


def runnable(run: RunResult, source: str) -> RunResult:
    """``run`` if every configuration in it may be measured again (``--resume``): none names code."""
    for t in run.trials:
        refuse_code_refs(t.config, source)
    refuse_code_refs(LoaderConfig.from_dict(run.space.base), source)
    return run


# ---------------------------------------------------------------- recommendations ---------------------


def recommendation_json(rec: Recommendation) -> str:
    """The recommendation as JSON; its first key, ``loader``, holds exactly DataLoader's keyword arguments."""
    return dumps(RECOMMENDATION_KIND, rec, first={"loader": rec.loader})


def load_recommendation(path: str | os.PathLike[str]) -> Recommendation:
    """Read a recommendation written by ``dltune recommend`` (its JSON file, or the run folder holding it).

    ``rec.loader`` holds the DataLoader keyword arguments, ``rec.loader_config`` the LoaderConfig;
    ``dltune.build_loader(dataset, rec)`` builds it.
    """
    p = Path(path)
    if p.is_dir():
        p = p / RECOMMENDATION_JSON
    rec = _load(
        p,
        "recommendation",
        RECOMMENDATION_KIND,
        Recommendation,
        {1: _same},
        "pass the recommendation.json written by `dltune recommend`, or run it again",
    )
    refuse_code_refs(rec.chosen.config, str(p))  # build_loader would import what it names
    return rec
