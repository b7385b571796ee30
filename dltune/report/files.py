"""The one place report files are written."""

from __future__ import annotations

import json
from pathlib import Path

from dltune.recommend import Recommendation
from dltune.report import html, markdown
from dltune.store import write_atomic

RECOMMENDATION_JSON = "recommendation.json"


def recommendation_json(rec: Recommendation) -> str:
    """One JSON object; its key ``loader`` holds exactly DataLoader's keyword arguments."""
    d = rec.to_dict()
    return json.dumps({"loader": d.pop("loader"), **d}, indent=1, default=str)


def write_reports(rec: Recommendation, folder: Path) -> dict[str, Path]:
    paths = {
        "markdown": folder / "recommendation.md",
        "html": folder / "recommendation.html",
        "json": folder / RECOMMENDATION_JSON,
    }
    write_atomic(paths["markdown"], markdown.render(rec))
    write_atomic(paths["html"], html.render(rec))
    write_atomic(paths["json"], recommendation_json(rec))
    return paths
