"""Measurements count what they claim: samples from the sampler, an empty epoch is a failure, the
preflight names the sample that raised; reports escape user text."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from dltune.bench.measure import guess_count, sample_counter
from dltune.recommend import recommend
from dltune.report import markdown

from ..synthetic import cpu_bound_run
from .helpers import dltune, one_error_line


class Images(Dataset):  # type: ignore[type-arg]
    """Variable-size 3-channel images: a list-collated batch of them has 3 as its first tensor's length."""

    def __len__(self) -> int:
        return 20

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.zeros(3, 8 + i, 10)


def test_list_collated_batches_are_counted_from_the_sampler() -> None:
    loader = DataLoader(Images(), batch_size=8, collate_fn=list)
    count = sample_counter(loader, 8, False, False)
    batches = list(loader)
    assert [guess_count(b, k) for k, b in enumerate(batches, 1)] == [3, 3, 3]  # what was counted before
    assert [count(b, k) for k, b in enumerate(batches, 1)] == [8, 8, 4]
    dropping = sample_counter(DataLoader(Images(), batch_size=8, drop_last=True), 8, True, False)
    assert [dropping(None, k) for k in (1, 2)] == [8, 8]


def test_batches_from_a_batch_sampler_are_read() -> None:
    loader = DataLoader(Images(), batch_sampler=[[0, 1, 2], [3, 4]], collate_fn=list)
    count = sample_counter(loader, None, False, False)
    assert [count(b, k) for k, b in enumerate(loader, 1)] == [
        3,
        3,
    ]  # a list of 3 images: the first tensor says 3
    tuples = DataLoader([(torch.zeros(5), 1)] * 12, batch_size=4)
    count = sample_counter(tuples, 4, False, True)
    assert [count(b, k) for k, b in enumerate(tuples, 1)] == [4, 4, 4]


ONCE = """
import torch
from torch.utils.data import IterableDataset

class Once(IterableDataset):
    def __init__(self):
        self.items = iter([torch.tensor([i]) for i in range(400)])
    def __iter__(self):
        return self.items  # the same used-up iterator on the second pass

dataset = Once()
"""


@pytest.mark.slow
def test_an_iterable_that_is_empty_after_one_pass_fails_the_trial_quickly(tmp_path: Path) -> None:
    (tmp_path / "once_ds.py").write_text(ONCE)
    t0 = time.monotonic()
    r = dltune("bench", str(tmp_path / "once_ds.py"), "-c", "quick", "-w", "0", "-b", "4",
               "--timeout", "60", "--out", str(tmp_path / "runs"), "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    trial = json.loads(r.stdout)["trials"][0]
    assert trial["status"] == "failed" and "can be iterated only once" in trial["reason"]
    assert time.monotonic() - t0 < 50  # not spinning through empty epochs until the time limit


RAISES_AT_5 = """
import torch
from torch.utils.data import Dataset

class Bad(Dataset):
    def __len__(self):
        return 100
    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"sample {i} is missing")
        return torch.zeros(2)

dataset = Bad()
"""


def test_the_preflight_names_the_sample_that_raised(tmp_path: Path) -> None:
    (tmp_path / "bad5_ds.py").write_text(RAISES_AT_5)
    r = dltune("bench", str(tmp_path / "bad5_ds.py"), "-c", "quick", "--out", str(tmp_path / "runs"))
    assert r.returncode == 2 and "(reading sample 5)" in one_error_line(r)


def test_markdown_reports_escape_user_text() -> None:
    import dataclasses

    run = dataclasses.replace(cpu_bound_run(), target="data/[click](http://x)_`ds`.py", name="a|b<i>")
    text = markdown.render(recommend(run))
    assert "## dltune recommendation for ``data/[click](http://x)_`ds`.py``" in text
    assert "[click](http" not in text.replace("``data/[click](http://x)_`ds`.py``", "")
    assert "a|b<i>" in text and "<i>" not in text.replace("``a|b<i>``", "").replace("`a|b<i>`", "")


SLOW_LISTED = """
import time
import torch
from torch.utils.data import Dataset

class Slow(Dataset):
    def __len__(self):
        return 100

    def __getitem__(self, i):
        time.sleep(0.004)
        return torch.zeros(3, 8 + i % 3)

dataset = Slow()
collate_fn = list
"""


def test_the_preflight_times_a_sample_apart_from_counting_tensors(tmp_path: Path) -> None:
    """The report's evidence line ("one sample takes X ms") reads the preflight's sample time: it must be
    seconds per sample, not the tensors a sample adds to a batch (which it once was: 1 s with a list collate)."""
    from dltune.bench.trial import preflight_job
    from dltune.model import Preflight

    (tmp_path / "slow_listed_ds.py").write_text(SLOW_LISTED)
    facts = Preflight(**preflight_job({"target": str(tmp_path / "slow_listed_ds.py")}))
    assert 0.004 <= facts.sample_s < 0.05
    assert facts.tensors_per_sample == 1.0
