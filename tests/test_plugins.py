"""One contract test over every registered plugin, with real DataLoaders and workers."""

from __future__ import annotations

import pickle
from collections import Counter

import pytest
import torch
from torch.utils.data import Dataset

import dltune
from dltune import BATCH_SAMPLERS, COLLATE, PINNING, SAMPLERS, LoaderConfig
from dltune.engine.samplers import LengthBucketBatchSampler, class_balanced_weights
from dltune.errors import ConfigError, PluginError


class Seqs(Dataset):
    """Variable-length sequences with labels (90 of class 0, 10 of class 1) and lengths."""

    def __init__(self, n: int = 100) -> None:
        self.lengths = [1 + (i * 7) % 13 for i in range(n)]
        self.targets = [0 if i < 90 else 1 for i in range(n)]

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int):
        return torch.full((self.lengths[i],), float(i)), self.targets[i]


def sampler_params(name: str) -> dict:
    return {"subset": {"fraction": 0.5}}.get(name, {})


# what each built-in sampler promises about index coverage within one epoch
COVERS_ALL_ONCE = {"sequential", "random", "distributed"}


@pytest.mark.parametrize("name", SAMPLERS.names())
def test_sampler_contract(name: str) -> None:
    ds = Seqs()
    make = lambda seed: dltune.make_sampler(name, ds, seed=seed, **sampler_params(name))  # noqa: E731
    s = make(7)
    first = list(s)
    assert len(first) == len(s)  # len kept
    assert all(0 <= i < len(ds) for i in first)
    if name in COVERS_ALL_ONCE:
        assert sorted(first) == list(range(len(ds)))
    if name == "subset":
        assert sorted(first) == list(range(50))
    assert list(make(7)) == first  # the same seed gives the same order
    pickle.loads(pickle.dumps(s))  # picklable for workers and checkpoints
    for workers in (0, 2):
        loader = dltune.build_loader(
            ds,
            LoaderConfig(
                batch_size=10,
                num_workers=workers,
                sampler=name,
                sampler_params=sampler_params(name),
                seed=7,
                collate="pad",
            ),
        )
        seen = torch.cat([b[0][:, 0] for b in loader]).long().tolist()
        assert seen == first  # the loader draws exactly the sampler's order, with or without workers


@pytest.mark.parametrize("name", BATCH_SAMPLERS.names())
def test_batch_sampler_contract(name: str) -> None:
    ds = Seqs()
    for workers in (0, 2):
        cfg = LoaderConfig(batch_size=8, num_workers=workers, batch_sampler=name, seed=3, collate="pad")
        loader = dltune.build_loader(ds, cfg)
        epoch1 = [b[0][:, 0].long().tolist() for b in loader]
        epoch2 = [b[0][:, 0].long().tolist() for b in loader]
        assert sorted(i for b in epoch1 for i in b) == list(range(len(ds)))  # each index once per epoch
        assert len(epoch1) == len(loader)
        assert epoch1 != epoch2  # set_epoch is called by the engine: epochs differ
        again = dltune.build_loader(ds, cfg)
        assert [b[0][:, 0].long().tolist() for b in again] == epoch1  # seed repeatability


def test_bucket_groups_similar_lengths() -> None:
    ds = Seqs(400)
    bs = LengthBucketBatchSampler(ds.lengths, batch_size=8, seed=0)
    spread = [max(ds.lengths[i] for i in b) - min(ds.lengths[i] for i in b) for b in bs]
    assert sum(spread) / len(spread) < 2  # random batches would spread ~10
    dropped = LengthBucketBatchSampler(ds.lengths, batch_size=8, seed=0, drop_last=True)
    assert all(len(b) == 8 for b in dropped) and len(list(dropped)) == len(dropped)


def test_weighted_balances_classes_per_sample() -> None:
    ds = Seqs(1000)
    ds.targets = [0] * 950 + [1] * 50
    w = class_balanced_weights(ds.targets)
    assert len(w) == len(ds) and w[0] == pytest.approx(1 / 950) and w[-1] == pytest.approx(1 / 50)
    drawn = Counter(ds.targets[i] for i in dltune.make_sampler("weighted", ds, seed=0))
    assert 0.4 < drawn[1] / len(ds) < 0.6
    with pytest.raises(ConfigError, match="one weight per sample, not per class"):
        dltune.make_sampler("weighted", ds, weights=[0.1, 0.9])


def test_distributed_splits_across_ranks_and_epochs() -> None:
    ds = Seqs()
    parts = [list(dltune.make_sampler("distributed", ds, seed=1, num_replicas=4, rank=r)) for r in range(4)]
    assert sorted(i for p in parts for i in p) == list(range(len(ds)))
    cfg = LoaderConfig(
        batch_size=100,
        sampler="distributed",
        sampler_params={"num_replicas": 2, "rank": 0},
        seed=1,
        collate="pad",
    )
    loader = dltune.build_loader(ds, cfg)
    e1, e2 = ([b[0][:, 0].long().tolist() for b in loader] for _ in range(2))
    assert e1 != e2  # set_epoch each epoch reshuffles


@pytest.mark.parametrize("name", COLLATE.names())
def test_collate_contract(name: str) -> None:
    fn = dltune.make_collate(name)
    pickle.loads(pickle.dumps(fn))
    ds = (
        Seqs(20)
        if name == "pad"
        else [(torch.ones(3, 4, 4) * i, {"boxes": torch.zeros(i % 3, 4)}) for i in range(20)]
    )
    if name == "default":
        ds = [(torch.ones(3) * i, i) for i in range(20)]
    for workers in (0, 2):
        loader = dltune.build_loader(ds, LoaderConfig(batch_size=5, num_workers=workers, collate=name))
        batches = list(loader)
        assert len(batches) == 4


def test_pad_collate_shapes() -> None:
    padded, lengths, mask, labels = dltune.make_collate("pad", pad_value=-1)(
        [(torch.tensor([1, 2, 3]), 0), (torch.tensor([4]), 1)]
    )
    assert padded.tolist() == [[1, 2, 3], [4, -1, -1]]
    assert lengths.tolist() == [3, 1] and mask.tolist() == [[True, True, True], [True, False, False]]
    assert labels.tolist() == [0, 1]
    out = dltune.make_collate("pad")(
        [{"input_ids": torch.tensor([5, 6]), "y": 1}, {"input_ids": torch.tensor([7]), "y": 0}]
    )
    assert out["input_ids"].tolist() == [[5, 6], [7, 0]] and out["input_ids_lengths"].tolist() == [2, 1]


def test_list_collate_keeps_targets() -> None:
    images, targets = dltune.make_collate("list")(
        [(torch.zeros(3, 2, 2), {"n": 1}), (torch.ones(3, 2, 2), {"n": 2})]
    )
    assert images.shape == (2, 3, 2, 2) and targets == [{"n": 1}, {"n": 2}]


@pytest.mark.parametrize("name", PINNING.names())
def test_pinning_contract(name: str) -> None:
    strategy = PINNING.get(name)
    assert strategy.name == name and isinstance(strategy.pin_memory, bool)
    if strategy.needs_accelerator and not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    ds = [(torch.ones(3) * i, i) for i in range(12)]
    for workers in (0, 2):
        loader = dltune.build_loader(ds, LoaderConfig(batch_size=4, num_workers=workers, pinning=name))
        assert len(loader) == 3 and len(list(loader)) == 3


def test_unknown_and_module_attr_plugins() -> None:
    with pytest.raises(PluginError, match="choices: bucket"):
        BATCH_SAMPLERS.get("buckets")
    assert SAMPLERS.get("torch.utils.data:SequentialSampler") is torch.utils.data.SequentialSampler
    with pytest.raises(PluginError, match="has no attribute 'Nope'"):
        COLLATE.get("torch.utils.data:Nope")
    with pytest.raises(PluginError, match="cannot import"):
        COLLATE.get("no_such_pkg_xyz:thing")
    # a third-party collate by module:attr, used through a config
    loader = dltune.build_loader(
        [1, 2, 3, 4], LoaderConfig(batch_size=2, collate="tests.helpers:sum_collate")
    )
    assert [int(b) for b in loader] == [3, 7]


@pytest.mark.gpu
def test_device_prefetch_moves_batches_to_gpu() -> None:
    ds = [(torch.ones(8) * i, i) for i in range(64)]
    loader = dltune.build_loader(ds, LoaderConfig(batch_size=8, num_workers=2, pinning="device-prefetch"))
    assert isinstance(loader, dltune.DevicePrefetcher) and len(loader) == 8
    batches = list(loader)
    assert all(x.is_cuda and y.is_cuda for x, y in batches)
    assert torch.cat([x[:, 0] for x, _ in batches]).cpu().tolist() == [float(i) for i in range(64)]
