"""Node-level figures: several ranks, each with its own DataLoader, measured at the same time (data only).

A trial with ranks (``--nproc-per-node``, ``--nnodes``) keeps each rank's own figures (``RankResult``)
and what the node (or the nodes) deliver together (``NodeFigures``). A synchronous training step waits
for the slowest rank, so the node's rate is ranks x the slowest rank's rate, not the sum.
"""

from __future__ import annotations

from dataclasses import dataclass

from dltune.model.metrics import Metrics


@dataclass(frozen=True)
class RankResult:
    rank: int
    """Global rank (0..world size - 1)."""
    local_rank: int
    node: int
    """The node's index in the rendezvous (torchrun's GROUP_RANK)."""
    host: str
    shard_len: int | None
    """Samples this rank's sampler yields per epoch (its shard of the dataset); None: not known."""
    metrics: Metrics | None
    threads: int = 1
    """Intra-op threads the rank's main process ran with (torch.get_num_threads)."""


@dataclass(frozen=True)
class NodeSection:
    """One machine of a multi-node run."""

    node: int
    host: str
    ranks: tuple[int, ...]
    samples_per_s: float
    """Ranks on this node x the slowest of them."""
    slowest_rank: int


@dataclass(frozen=True)
class NodeFigures:
    nproc_per_node: int
    nnodes: int
    world_size: int
    slowest_rank: int
    straggler_spread: float
    """(fastest rank - slowest rank) / fastest rank: what a synchronous step loses to the straggler."""
    sum_samples_per_s: float
    """The ranks' rates added up: what the node would deliver if no rank ever waited for another."""
    processes: int
    """Loading processes per node: ranks x (main + workers)."""
    threads: int
    """Intra-op threads those processes may run at once, per node (processes x threads each)."""
    usable_cores: int
    oversubscription: float
    """threads / usable cores: above 1, loading threads queue for cores."""
    pss_total: int
    """Proportional set size of every rank and its workers on the node, added up (bytes)."""
    shm_in_flight: int
    """/dev/shm the batches in flight take on the node: ranks x workers x prefetch x batch bytes."""
    sections: tuple[NodeSection, ...] = ()
    """One per machine (several only in a multi-node run)."""
    slowest_node: int | None = None
    """In a multi-node run: the node whose slowest rank sets the pace."""


@dataclass(frozen=True)
class ShardingMemory:
    """Node memory of one configuration two ways, measured one after the other: each rank loading only
    its part through the dataset's ``shard(rank, world_size)``, and every rank holding the full index
    (the dataset's shard() ignored; ``DistributedSampler`` picks each rank's samples)."""

    key: str
    sharded_pss: int
    """Every rank and its workers on one machine, added up (bytes), with shard()."""
    full_pss: int
    """The same with the full dataset on every rank."""
    sharded_main_pss: int
    """One rank's main process (the largest), with shard()."""
    full_main_pss: int
    """One rank's main process (the largest), with the full dataset."""
    full_failed: str | None = None
    """Why the trial with the full dataset on every rank failed (memory, most likely), if it did."""

    @property
    def saved(self) -> int | None:
        return None if self.full_failed else self.full_pss - self.sharded_pss
