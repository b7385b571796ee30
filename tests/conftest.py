from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def pytest_configure(config: pytest.Config) -> None:
    # examples generate their data on first use: keep it small and out of the checkout
    os.environ.setdefault("DLTUNE_EXAMPLE_IMAGES", "48")
    os.environ.setdefault("DLTUNE_STREAM_LATENCY_MS", "0.2")
    if "DLTUNE_DATA_DIR" not in os.environ:
        import tempfile

        os.environ["DLTUNE_DATA_DIR"] = _MADE["data"] = tempfile.mkdtemp(prefix="dltune-test-data-")


_MADE: dict[str, str] = {}


def pytest_unconfigure(config: pytest.Config) -> None:
    """The suite leaves nothing in the temporary directory: remove the example data it generated."""
    import shutil

    if "data" in _MADE:
        shutil.rmtree(_MADE.pop("data"), ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a dataset file with a unique module name into tmp_path; remove it from sys.modules after."""
    written: list[str] = []

    def write(name: str, body: str) -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(body))
        written.append(name)
        return path

    yield write
    for name in written:
        sys.modules.pop(name, None)
        if str(tmp_path) in sys.path:
            sys.path.remove(str(tmp_path))
