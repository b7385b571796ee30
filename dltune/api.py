"""Library entry points that read saved results."""

from __future__ import annotations

import os
from pathlib import Path

from dltune.errors import ResultsFileError
from dltune.recommend import Recommendation, recommendation_from_dict
from dltune.report.files import RECOMMENDATION_JSON
from dltune.store import read_json


def load_recommendation(path: str | os.PathLike[str]) -> Recommendation:
    """Read a recommendation written by ``dltune recommend`` (its JSON file, or the run folder holding it).

    ``rec.loader`` holds the DataLoader keyword arguments, ``rec.loader_config`` the LoaderConfig;
    ``dltune.build_loader(dataset, rec)`` builds it.
    """
    p = Path(path)
    if p.is_dir():
        p = p / RECOMMENDATION_JSON
    data = read_json(p, "recommendation file")
    if data.get("kind") != "dltune.recommendation":
        raise ResultsFileError(
            f"{p} is not a dltune recommendation (kind={data.get('kind')!r})",
            "pass the recommendation.json written by `dltune recommend`",
        )
    try:
        return recommendation_from_dict(data)
    except (TypeError, KeyError) as exc:
        raise ResultsFileError(
            f"{p} is damaged or from another dltune version: {exc}", "run `dltune recommend` again"
        ) from None
