"""The one place report files are written."""

from __future__ import annotations

from pathlib import Path

from dltune.model import Recommendation
from dltune.report import html, markdown
from dltune.store import RECOMMENDATION_JSON, recommendation_json, write_atomic

__all__ = ["RECOMMENDATION_JSON", "recommendation_json", "write_reports"]


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
