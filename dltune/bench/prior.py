"""What dltune recommended for this dataset file as one loader, from an earlier run: a run with ranks
measures it on every rank, so the report can show what tuning for one loader would have cost."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dltune.engine.dataset_file import same_target
from dltune.errors import DltuneError
from dltune.model import LoaderConfig, SweepSpace
from dltune.recommend import recommend
from dltune.store import RUN_FILE, load_run

LOOK_AT = 50
"""Run folders looked at, newest first."""


def single_loader_choice(
    out_root: Path, target: str, fingerprint: str, space: SweepSpace
) -> LoaderConfig | None:
    """The recommendation of the newest complete run under ``out_root`` of the same dataset file (the
    same version of it) measured as one loader; None when there is none. When this run fixes one batch
    size, the configuration takes it (a different batch size would not compare like with like)."""
    folders = sorted((p for p in out_root.glob("*") if (p / RUN_FILE).is_file()), key=lambda p: p.name)
    for folder in reversed(folders[-LOOK_AT:]):
        try:
            run = load_run(folder)
            if run.settings.ranked or not run.complete or not same_target(run.target, target):
                continue
            if fingerprint and run.fingerprint != fingerprint:
                continue
            cfg = recommend(run).chosen.config
        except DltuneError:  # a damaged or unusable run is skipped, never a reason to fail this one
            continue
        if len(space.batch_size) == 1 and space.batch_size[0] is not None and cfg.batch_size is not None:
            cfg = replace(cfg, batch_size=space.batch_size[0])
        return cfg
    return None
