"""LoaderConfig: DataLoader's exclusions and nonsense values fail before construction, naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

import dltune
from dltune import LoaderConfig
from dltune.engine.config import validate
from dltune.errors import ConfigError, PluginError, UsageError

DS = TensorDataset(torch.arange(10.0))


class Stream(IterableDataset):
    def __iter__(self):
        return iter(range(4))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(batch_sampler="bucket", shuffle=True), "shuffle"),
        (dict(batch_sampler="bucket", sampler="random"), "sampler"),
        (dict(sampler="random", shuffle=True), "shuffle"),
        (dict(prefetch_factor=2), "prefetch_factor"),
        (dict(persistent_workers=True), "persistent_workers"),
        (dict(multiprocessing_context="spawn"), "multiprocessing_context"),
        (dict(num_workers=2, multiprocessing_context="teleport"), "multiprocessing_context"),
        (dict(num_workers=-1), "num_workers"),
        (dict(batch_size=0), "batch_size"),
        (dict(num_workers=1, prefetch_factor=0), "prefetch_factor"),
        (dict(timeout=-1.0), "timeout"),
    ],
)
def test_rejected_configs_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate(LoaderConfig(**kwargs), DS, accelerator=False)
    assert err.value.field == field
    assert err.value.hint  # every error says what to do next


def test_iterable_dataset_takes_no_sampler() -> None:
    with pytest.raises(ConfigError, match="IterableDataset takes no sampler"):
        validate(LoaderConfig(sampler="sequential"), Stream(), accelerator=False)
    with pytest.raises(ConfigError, match="IterableDataset"):
        validate(LoaderConfig(shuffle=True), Stream(), accelerator=False)


def test_dataset_file_batch_sampler_excludes_batch_size() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        validate(LoaderConfig(batch_size=32), DS, file_batch_sampler=True, accelerator=False)
    assert validate(LoaderConfig(), DS, file_batch_sampler=True, accelerator=False) == []


def test_pin_memory_without_accelerator_is_a_warning_not_a_crash() -> None:
    warnings = validate(LoaderConfig(pinning="pin_memory"), DS, accelerator=False)
    assert any("without a CUDA device" in w for w in warnings)
    with pytest.raises(ConfigError, match="CUDA"):
        validate(LoaderConfig(pinning="device-prefetch"), DS, accelerator=False)


def test_unknown_plugin_names_list_the_choices() -> None:
    with pytest.raises(PluginError) as err:
        validate(LoaderConfig(sampler="shuffled"), DS, accelerator=False)
    assert "random" in str(err.value) and "weighted" in str(err.value)
    with pytest.raises(PluginError, match="pin_memory"):
        validate(LoaderConfig(pinning="pinned"), DS, accelerator=False)


def test_from_dict_types_and_typos() -> None:
    cfg = LoaderConfig.from_dict({"batch_size": 64, "num_workers": 4, "pin_memory": True, "timeout": 5})
    assert cfg.pinning == "pin_memory" and cfg.timeout == 5.0
    with pytest.raises(ConfigError, match="did you mean 'num_workers'"):
        LoaderConfig.from_dict({"num_worker": 4})
    with pytest.raises(ConfigError, match="batch_size: '64' is not an integer"):
        LoaderConfig.from_dict({"batch_size": "64"})
    with pytest.raises(ConfigError, match="shuffle"):
        LoaderConfig.from_dict({"shuffle": "yes"})


def test_from_toml(tmp_path: Path) -> None:
    p = tmp_path / "loader.toml"
    p.write_text(
        '[loader]\nbatch_size = 32\nnum_workers = 2\nsampler = "weighted"\n[loader.sampler_params]\nreplacement = false\n'
    )
    cfg = LoaderConfig.from_toml(p)
    assert cfg.sampler == "weighted" and cfg.sampler_params == {"replacement": False}
    p.write_text("batch_size = [")
    with pytest.raises(UsageError, match="not valid TOML"):
        LoaderConfig.from_toml(p)


def test_rendered_code_builds_the_same_loader() -> None:
    cfg = LoaderConfig(
        batch_size=4,
        num_workers=2,
        prefetch_factor=3,
        persistent_workers=True,
        shuffle=True,
        multiprocessing_context="spawn",
    )
    code = cfg.to_code("DS")
    loader = eval(code, {"DataLoader": DataLoader, "DS": DS, "dltune": dltune})
    built = dltune.build_loader(DS, cfg)
    for attr in (
        "batch_size",
        "num_workers",
        "prefetch_factor",
        "persistent_workers",
        "pin_memory",
        "drop_last",
    ):
        assert getattr(loader, attr) == getattr(built, attr), attr
    assert cfg.loader_kwargs()["prefetch_factor"] == 3


def test_rendered_code_with_named_plugins_runs() -> None:
    ds = TensorDataset(torch.arange(12.0), torch.tensor([0] * 9 + [1] * 3))
    cfg = LoaderConfig(batch_size=4, sampler="weighted", sampler_params={"labels": [0] * 9 + [1] * 3}, seed=1)
    loader = eval(cfg.to_code("ds"), {"DataLoader": DataLoader, "ds": ds, "dltune": dltune})
    assert sum(len(b[0]) for b in loader) == 12


def test_key_is_distinct_per_knob() -> None:
    a = LoaderConfig(batch_size=64, num_workers=2, prefetch_factor=2)
    b = a.replace(prefetch_factor=4)
    c = a.replace(persistent_workers=True)
    assert len({a.key(), b.key(), c.key()}) == 3
