"""Every example file loads through the dataset-file contract and iterates with 0 and 2 workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import dltune
from dltune import LoaderConfig
from dltune.engine.dataset_file import load_dataset

from .conftest import EXAMPLES

EXAMPLE_FILES = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def test_there_are_five_examples() -> None:
    assert {p.stem for p in EXAMPLE_FILES} >= {"image_folder", "imbalanced", "detection", "text", "stream"}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("workers", [0, 2])
def test_example_iterates(path: Path, workers: int) -> None:
    spec = load_dataset(str(path))
    loader = dltune.build_loader(spec.dataset, LoaderConfig(batch_size=8, num_workers=workers), spec.extras)
    seen = 0
    for i, batch in enumerate(loader):
        seen += dltune.engine.transfer.batch_len(batch)
        if i == 3:
            break
    assert seen == 32


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_runs_as_a_script(path: Path) -> None:
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_stream_shards_without_duplicates() -> None:
    spec = load_dataset(str(EXAMPLES / "stream.py"))
    for workers in (0, 1, 3):
        loader = dltune.build_loader(spec.dataset, LoaderConfig(batch_size=32, num_workers=workers))
        ids = torch.cat([b["id"] for b in loader]).tolist()
        assert len(ids) == len(spec.dataset) and len(set(ids)) == len(ids)


def test_imbalanced_sampler_balances() -> None:
    spec = load_dataset(str(EXAMPLES / "imbalanced.py"))
    loader = dltune.build_loader(spec.dataset, LoaderConfig(batch_size=500, num_workers=2), spec.extras)
    labels = torch.cat([y for _, y in loader])
    share_rare = float((labels == 2).float().mean())
    assert 0.25 < share_rare < 0.42  # 1% of the data, about a third of the draws


def test_text_bucket_and_pad() -> None:
    spec = load_dataset(str(EXAMPLES / "text.py"))
    loader = dltune.build_loader(
        spec.dataset, LoaderConfig(batch_size=16, batch_sampler="bucket", seed=0, num_workers=2), spec.extras
    )
    tokens, lengths, mask, labels = next(iter(loader))
    assert tokens.shape[0] == 16 and int(mask.sum()) == int(lengths.sum())
    assert float(mask.float().mean()) > 0.8  # bucketing keeps padding low
