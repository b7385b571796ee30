"""What sharding saves: the best configuration's node memory with every rank loading only its part
(the dataset's ``shard(rank, world_size)``) against every rank holding the full dataset.

Runs once at the end of a sweep or a tuning session with ranks, when the preflight found a
``shard()`` method: two more node trials of the best configuration, back to back, with ``shard()``
and with it ignored. Their figures go into ``RunResult.sharding``, not into the trials: memory is
what they are for, and their throughput is not a candidate's.
"""

from __future__ import annotations

from dltune.bench.recorder import Recorder
from dltune.model import LoaderConfig, MeasureSettings, ShardingMemory, TrialResult


def _main_pss(t: TrialResult) -> int:
    return max((r.metrics.peak_pss_main for r in t.ranks if r.metrics), default=0)


def measure_sharding(rec: Recorder, best: LoaderConfig, settings: MeasureSettings) -> ShardingMemory | None:
    """Two node trials of ``best``, one after the other with the same settings: each rank with its
    shard, then every rank with the full dataset. None without ranks or without ``shard()``, or when
    the sharded trial fails (the run's own trials already say why)."""
    pre = rec.run.preflight
    if not (settings.ranked and pre is not None and pre.shardable):
        return None
    with rec.stage("sharding memory") as unkept:
        sharded = rec.runner(rec.target, best, settings, role="sharded", repeat=0)
        unkept.append(sharded)
        if not sharded.ok or sharded.node is None:
            return None
        full = rec.runner(rec.target, best, settings, role="full-index", repeat=0, full_index=True)
        unkept.append(full)
    failed = None if full.ok and full.node is not None else f"{full.status}: {full.reason}"
    return ShardingMemory(
        key=best.key(),
        sharded_pss=sharded.node.pss_total,
        full_pss=full.node.pss_total if full.node is not None and failed is None else 0,
        sharded_main_pss=_main_pss(sharded),
        full_main_pss=_main_pss(full) if failed is None else 0,
        full_failed=failed,
    )
