"""A recommendation: the configuration to use, the figures behind it and why (data only).

``dltune.recommend`` computes it from a run; the report renders it; ``dltune.load_recommendation``
reads it back and ``dltune.build_loader(dataset, rec)`` builds its loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dltune.model.hardware import HardwareFacts
from dltune.model.loader import LoaderConfig
from dltune.model.node import NodeFigures, RankResult, ShardingMemory
from dltune.model.trace import Search, Tuning


@dataclass(frozen=True)
class Constraints:
    max_memory: int | None = None
    max_workers: int | None = None
    batch_size: int | None = None


@dataclass(frozen=True)
class ConfigStat:
    """One configuration's figures, pooled over its repeats."""

    key: str
    config: LoaderConfig
    rate: float
    low: float
    high: float
    memory: int
    cpu_pct: float
    main_cpu_pct: float
    first_batch_s: float
    wait_p99_ms: float
    stall_fraction: float | None
    h2d_ms: float | None
    batch_bytes: float
    repeats: int
    role: str
    fed_workers: int | None = None
    """The most workers that made a batch in any of its trials (dltune.bench.fed); None where not counted."""

    @property
    def workers(self) -> int:
        return self.config.num_workers

    @property
    def batch_size(self) -> int | None:
        return self.config.batch_size


@dataclass(frozen=True)
class PredictionRow:
    key: str
    predicted: float
    measured: float
    bound: str
    error: float | None


@dataclass(frozen=True)
class Bottleneck:
    kind: str
    """cpu | storage | transfer | main-process | parallelism | host-to-device | startup | memory | none"""
    summary: str
    evidence: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScalingPoint:
    workers: int
    rate: float
    ideal: float | None


@dataclass(frozen=True)
class NodePlan:
    """For a run with ranks: what every rank uses and how to launch them, with the node's figures."""

    nproc_per_node: int
    nnodes: int
    rank_config: LoaderConfig
    """Each rank's configuration (its sampler shards the dataset: 'distributed' unless the file brings one)."""
    torchrun: str
    """The launch line, environment included."""
    env: dict[str, str]
    figures: NodeFigures
    """The chosen configuration's node figures (its last measured trial)."""
    ranks: tuple[RankResult, ...]
    why: list[str] = field(default_factory=list)
    sharding: ShardingMemory | None = None
    """Node memory with each rank loading its shard against the full dataset on every rank."""
    single_loader: ConfigStat | None = None
    """dltune's recommendation for one loader (an earlier run of the file), measured on every rank."""
    speedup_vs_single_loader: float | None = None


@dataclass(frozen=True)
class Recommendation:
    target: str
    run: str
    chosen: ConfigStat
    best: ConfigStat
    ties: list[str]
    loader: dict[str, Any]
    """Exactly the keyword arguments for torch.utils.data.DataLoader (plain JSON values)."""
    code: str
    defaults: ConfigStat | None
    cores_rule: ConfigStat | None
    speedup_vs_defaults: float | None
    speedup_vs_cores_rule: float | None
    bottleneck: Bottleneck
    scaling: list[ScalingPoint]
    memory_per_worker: int | None
    usable_cores: int
    step_ms: float
    keeps_up: bool | None
    excluded: list[str]
    failures: list[str]
    considered: int
    ranked: list[ConfigStat] = field(default_factory=list)
    hardware: HardwareFacts | None = None
    predictions: list[PredictionRow] = field(default_factory=list)
    """With `dltune tune`: predicted vs measured samples/s for each configuration measured."""
    tuned: Tuning | None = None
    """With `dltune tune`: trials measured, the grid's size, the stage costs (predictions are above)."""
    search: Search | None = None
    """How the best was found: timed stages, the worker ceiling, the side-by-side race, notes."""
    incomplete: bool = False
    """The run was interrupted: configurations it planned were never measured."""
    node: NodePlan | None = None
    """With ranks (``--nproc-per-node``): the per-rank configuration, the torchrun line, the node's figures."""

    @property
    def loader_config(self) -> LoaderConfig:
        """The chosen configuration as a LoaderConfig (what ``dltune.build_loader`` takes); for a node,
        each rank's (under torchrun its sampler reads the rank and world size from the process group)."""
        return self.node.rank_config if self.node else self.chosen.config
