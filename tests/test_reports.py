"""Renderers: golden files for Markdown, terminal and JSON; structure of the self-contained HTML.

Regenerate the golden files after an intended change with: DLTUNE_REGEN_GOLDEN=1 python -m pytest tests/test_reports.py
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import torch
from rich.console import Console

import dltune
from dltune.errors import ResultsFileError
from dltune.recommend import recommend
from dltune.report import html, markdown, terminal
from dltune.report.files import recommendation_json, write_reports

from .synthetic import cpu_bound_run

GOLDEN = Path(__file__).parent / "golden"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("DLTUNE_REGEN_GOLDEN"):
        path.write_text(text)
    assert path.is_file(), f"missing golden file {path}; run with DLTUNE_REGEN_GOLDEN=1"
    assert text == path.read_text()


def test_markdown_golden() -> None:
    check_golden("recommendation.md", markdown.render(recommend(cpu_bound_run())))


def test_terminal_golden() -> None:
    console = Console(width=120, record=True, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(terminal.render(recommend(cpu_bound_run())))
    check_golden("recommendation.txt", console.export_text())


def test_json_golden_and_loader_key() -> None:
    text = recommendation_json(recommend(cpu_bound_run()))
    check_golden("recommendation.json", text)
    data = json.loads(text)
    assert list(data)[0] == "loader"
    torch.utils.data.DataLoader(list(range(10)), **data["loader"])  # exactly DataLoader's kwargs


def test_html_is_self_contained_with_three_plots() -> None:
    page = html.render(recommend(cpu_bound_run()))
    assert page.count("<svg") == 3 and "<script" not in page
    assert not re.search(r'(src|href)="https?://', page)
    assert "Pareto front" in page and "num_workers=8" in page


def test_written_reports_load_back_and_build(tmp_path: Path) -> None:
    rec = recommend(cpu_bound_run())
    paths = write_reports(rec, tmp_path)
    assert {p.name for p in paths.values()} == {
        "recommendation.md",
        "recommendation.html",
        "recommendation.json",
    }
    loaded = dltune.load_recommendation(str(tmp_path))
    assert loaded.loader == rec.loader and loaded.chosen == rec.chosen
    loader = dltune.build_loader(torch.utils.data.TensorDataset(torch.arange(256.0)), loaded)
    assert loader.num_workers == 8 and loader.batch_size == 64 and loader.persistent_workers


def test_corrupt_recommendation_file(tmp_path: Path) -> None:
    (tmp_path / "recommendation.json").write_text('{"loader": {')
    with pytest.raises(ResultsFileError, match="not valid JSON"):
        dltune.load_recommendation(str(tmp_path))
    (tmp_path / "recommendation.json").write_text('{"kind": "something.else"}')
    with pytest.raises(ResultsFileError, match="not a dltune recommendation"):
        dltune.load_recommendation(str(tmp_path))


def test_progress_is_plain_log_lines_when_stderr_is_not_a_terminal() -> None:
    import io

    from dltune.bench.events import Event
    from dltune.cli.progress import SweepProgress

    from .synthetic import failed, run, trial

    buf = io.StringIO()
    view = SweepProgress(Console(file=buf, force_terminal=False, width=200), "ds.py")
    ok, bad = trial(4, 1234.0, spread=0.03), failed(8, reason="the dataset raised KeyError [/x]")
    with view:
        view.update(Event("planned", run(), total=2))
        view.update(Event("trial_done", run(ok), trial=ok))
        view.update(Event("trial_done", run(ok, bad), trial=bad))
    lines = buf.getvalue().splitlines()
    assert lines[0] == "2 trials planned"
    assert lines[1] == "[1/2] w4-b64-pf2-off-persist  1,234 samples/s +-3%"
    assert lines[2] == "[2/2] w8-b64-pf2-off-persist  failed: the dataset raised KeyError [/x]"


def test_quiet_prints_no_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from dltune.bench.events import Event
    from dltune.cli.console import Verbosity
    from dltune.cli.progress import SweepProgress

    from .synthetic import run, trial

    monkeypatch.setattr(Verbosity, "quiet", True)
    buf = io.StringIO()
    view = SweepProgress(Console(file=buf, force_terminal=False), "ds.py")
    with view:
        view.update(Event("planned", run(), total=1, folder=Path("f")))
        view.update(Event("trial_done", run(trial(2, 10.0)), trial=trial(2, 10.0)))
    assert buf.getvalue() == "" and view.finished == 1 and view.folder == Path("f")
