"""The typed, torch-free data model: what dltune measures, decides and saves.

Every seam carries these objects: the machine (``HardwareFacts``), a configuration
(``LoaderConfig``), measurement settings and the sweep space, the preflight, trials and runs, how the
search went (``Search``, ``Tuning``), a baseline and a recommendation. ``dltune.store`` is the one
place that turns them into JSON and back (with the schema version of each file kind).
Nothing here imports torch: recommend, regress, report and store work on saved results anywhere.
"""

from dltune.model.baseline import Baseline, BaselineEntry
from dltune.model.hardware import CpuFacts, GpuFacts, H2DRate, HardwareFacts, MemoryFacts
from dltune.model.loader import LoaderConfig
from dltune.model.metrics import Metrics, Raw
from dltune.model.node import NodeFigures, NodeSection, RankResult, ShardingMemory
from dltune.model.preflight import Preflight
from dltune.model.recommendation import (
    Bottleneck,
    ConfigStat,
    Constraints,
    NodePlan,
    PredictionRow,
    Recommendation,
    ScalingPoint,
)
from dltune.model.results import (
    FAILED,
    KILLED,
    MEMORY,
    OK,
    RACE,
    REFERENCE_CORES,
    REFERENCE_DEFAULTS,
    REFERENCE_SINGLE,
    REJECTED,
    SHM,
    SWEEP,
    TIMEOUT,
    RunResult,
    TrialResult,
)
from dltune.model.settings import MeasureSettings
from dltune.model.space import Pruned, SweepSpace
from dltune.model.trace import CeilingRecord, Prediction, RaceRecord, Search, Stage, StageCosts, Tuning

__all__ = [
    "FAILED",
    "KILLED",
    "MEMORY",
    "OK",
    "RACE",
    "REFERENCE_CORES",
    "REFERENCE_SINGLE",
    "REFERENCE_DEFAULTS",
    "REJECTED",
    "SHM",
    "SWEEP",
    "TIMEOUT",
    "Baseline",
    "BaselineEntry",
    "Bottleneck",
    "CeilingRecord",
    "ConfigStat",
    "Constraints",
    "CpuFacts",
    "GpuFacts",
    "H2DRate",
    "HardwareFacts",
    "LoaderConfig",
    "MeasureSettings",
    "MemoryFacts",
    "Metrics",
    "NodeFigures",
    "NodePlan",
    "NodeSection",
    "Prediction",
    "PredictionRow",
    "Preflight",
    "Pruned",
    "RaceRecord",
    "RankResult",
    "Raw",
    "Recommendation",
    "RunResult",
    "ScalingPoint",
    "Search",
    "Stage",
    "StageCosts",
    "ShardingMemory",
    "SweepSpace",
    "TrialResult",
    "Tuning",
]
