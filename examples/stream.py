"""A streamed dataset (IterableDataset) read record by record from shard files, as from object storage.

Each worker takes its own shards with ``get_worker_info`` so no record is read twice. Every shard
open and record read waits on simulated storage latency (``LATENCY_MS``), so throughput keeps
growing with workers well past the number of cores: the workers mostly wait, they do not compute.

    dltune bench examples/stream.py
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import IterableDataset, get_worker_info

sys.path.insert(0, str(Path(__file__).parent))
from _data import ensure  # noqa: E402

SHARDS = 16
RECORDS_PER_SHARD = 128
LATENCY_MS = float(os.environ.get("DLTUNE_STREAM_LATENCY_MS", "2"))


def _make_shards(folder: Path) -> None:
    for s in range(SHARDS):
        with open(folder / f"shard-{s:03d}.jsonl", "w") as f:
            for r in range(RECORDS_PER_SHARD):
                rid = s * RECORDS_PER_SHARD + r
                f.write(
                    json.dumps({"id": rid, "values": [(rid * 7 + k) % 101 / 100 for k in range(32)]}) + "\n"
                )


class ShardStream(IterableDataset):
    def __init__(self, root: Path) -> None:
        self.shards = sorted(root.glob("shard-*.jsonl"))

    def my_shards(self) -> list[Path]:
        info = get_worker_info()
        if info is None:
            return self.shards
        return self.shards[info.id :: info.num_workers]

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for shard in self.my_shards():
            time.sleep(LATENCY_MS / 1000)  # open: a round trip to storage
            with open(shard) as f:
                for line in f:
                    time.sleep(LATENCY_MS / 1000)  # each record: another round trip
                    rec = json.loads(line)
                    yield {"id": torch.tensor(rec["id"]), "values": torch.tensor(rec["values"])}

    def __len__(self) -> int:
        return len(self.shards) * RECORDS_PER_SHARD


def dataset() -> ShardStream:
    return ShardStream(ensure("stream", _make_shards))


if __name__ == "__main__":
    import dltune

    loader = dltune.build_loader(dataset(), dltune.LoaderConfig(batch_size=64, num_workers=4))
    ids = torch.cat([b["id"] for b in loader])
    print(f"{len(ids)} records, {len(set(ids.tolist()))} distinct, in {len(loader)} batches")
