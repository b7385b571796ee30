"""The dataset-file contract: every bad file gets one clear error; every start method works."""

from __future__ import annotations

import pytest
import torch

import dltune
from dltune.engine.dataset_file import load_dataset, split_target
from dltune.errors import DatasetFileError

GOOD = """
import torch
from torch.utils.data import Dataset

class Squares(Dataset):
    def __len__(self):
        return 20
    def __getitem__(self, i):
        return torch.tensor([i * i], dtype=torch.float32)

dataset = Squares()
small = Squares
"""


def test_missing_file() -> None:
    with pytest.raises(DatasetFileError, match="does not exist"):
        load_dataset("no/such/file.py")


def test_syntax_error_names_the_line(write_file) -> None:
    p = write_file("broken_syntax", "import torch\n\ndataset = (1,\nx = 2\n")
    with pytest.raises(DatasetFileError) as err:
        load_dataset(str(p))
    assert "broken_syntax.py line 3" in str(err.value) or "line 4" in str(err.value)
    assert "syntax error" in err.value.message


def test_import_error_shows_the_cause(write_file) -> None:
    p = write_file("bad_import", "import no_such_module_xyz\n")
    with pytest.raises(
        DatasetFileError, match="raised ModuleNotFoundError: No module named 'no_such_module_xyz'"
    ):
        load_dataset(str(p))


def test_missing_attribute_says_what_to_define(write_file) -> None:
    p = write_file("no_dataset_attr", GOOD.replace("dataset = Squares()", "train_set = Squares()"))
    with pytest.raises(DatasetFileError) as err:
        load_dataset(str(p))
    assert "defines no 'dataset'" in err.value.message
    assert "dataset = YourDataset" in (err.value.hint or "")
    assert "no_dataset_attr.py:train_set" in (err.value.hint or "")


def test_wrong_type(write_file) -> None:
    p = write_file("wrong_type", "dataset = 42\n")
    with pytest.raises(DatasetFileError, match="dataset is a int, not a torch Dataset"):
        load_dataset(str(p))


def test_factory_raising_shows_its_traceback_tail(write_file) -> None:
    p = write_file("factory_raises", "def dataset():\n    open('/no/such/annotations.json')\n")
    with pytest.raises(DatasetFileError) as err:
        load_dataset(str(p))
    assert "calling dataset() raised FileNotFoundError" in err.value.message
    assert "annotations.json" in str(err.value) and "line 2" in (err.value.hint or "")


def test_module_attr_target_and_factory(write_file) -> None:
    p = write_file("good_attr", GOOD)
    spec = load_dataset(f"{p}:small")
    assert len(spec.dataset) == 20 and spec.name == "good_attr"
    assert split_target("pkg.mod:train") == ("pkg.mod", "train")
    assert split_target("data/set.py") == ("data/set.py", "dataset")


def test_sampler_and_collate_from_the_file(write_file) -> None:
    p = write_file(
        "with_extras",
        GOOD
        + """
from torch.utils.data import SequentialSampler
def sampler(ds):
    return list(reversed(range(len(ds))))
def collate_fn(batch):
    return torch.cat(batch)
""",
    )
    spec = load_dataset(str(p))
    loader = dltune.build_loader(spec.dataset, dltune.LoaderConfig(batch_size=5), spec.extras)
    first = next(iter(loader))
    assert first.tolist() == [361.0, 324.0, 289.0, 256.0, 225.0]


def test_bad_sampler_in_file(write_file) -> None:
    p = write_file("bad_sampler", GOOD + "sampler = 3\n")
    with pytest.raises(DatasetFileError, match="sampler is a int, not a sampler"):
        load_dataset(str(p))


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_classes_in_the_file_unpickle_in_workers(write_file, method: str) -> None:
    p = write_file(f"start_{method}", GOOD)
    spec = load_dataset(str(p))
    cfg = dltune.LoaderConfig(batch_size=5, num_workers=2, multiprocessing_context=method)
    batches = list(dltune.build_loader(spec.dataset, cfg, spec.extras))
    assert torch.cat(batches).flatten().tolist() == [float(i * i) for i in range(20)]
