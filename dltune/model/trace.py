"""How a run found its best: timed stages, the worker ceiling, the side-by-side race, tuning's model.

``dltune bench`` and ``dltune tune`` write these into the run (``RunResult.search``, ``.tuning``);
the report shows them so a user sees where the time went and why the search stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dltune.model.settings import MeasureSettings


@dataclass(frozen=True)
class Stage:
    stage: str
    trials: int
    seconds: float


@dataclass(frozen=True)
class CeilingRecord:
    workers: int
    """The most workers the search could try..."""
    limit: str
    """...and the limit that set it, in words."""


@dataclass(frozen=True)
class RaceRecord:
    """Close candidates measured again, interleaved (dltune.bench.confirm)."""

    candidates: tuple[str, ...]
    rounds: int
    rates: dict[str, tuple[float, ...]]
    """samples/s per round for each candidate (0 for a failed trial)."""
    alive: tuple[str, ...]
    winner: str
    ended: str = ""
    """Why the race stopped: 'decided' (one candidate left, the rest provably equivalent, or none able to beat
    the winner by more than 3%), 'close' (the survivors so close that choosing the winner was expected to cost
    under 1%), 'budget' (another round would have cost more than its budget), 'rounds' (its
    round cap); '' in runs saved before races recorded it."""
    joined: tuple[str, ...] = ()
    """Candidates that joined after the first round (dltune.bench.confirm.latecomer): the race read its best far
    below the screen that had set its reach."""


@dataclass(frozen=True)
class Search:
    stages: tuple[Stage, ...] = ()
    notes: tuple[str, ...] = ()
    ceiling: CeilingRecord | None = None
    race: RaceRecord | None = None

    @property
    def raced(self) -> tuple[str, ...]:
        return self.race.candidates if self.race else ()


@dataclass(frozen=True)
class StageCosts:
    """Tuning's calibration: the pipeline's stage costs (dltune.tune_model predicts from them)."""

    r0: float
    """samples/s in the main process (num_workers=0)"""
    r1: float
    """samples/s with one worker"""
    worker_cpu: float
    """cores one busy worker uses (1.0 = CPU-bound; 0.1 = waiting 90% of the time)"""
    main_cpu_per_sample: float
    """main-process CPU seconds per sample with workers (unpickling, collate in main, pinning)"""
    cores: int


@dataclass(frozen=True)
class Prediction:
    predicted: float
    bound: str


@dataclass(frozen=True)
class Tuning:
    """Set by `dltune tune`: how much of the grid it measured, and the model behind its choices."""

    grid_size: int
    trials: int
    exhaustive: bool = False
    """The grid was small enough to measure whole."""
    costs: StageCosts | None = None
    settings: MeasureSettings | None = None
    """The shorter windows tuning screened with."""
    predictions: dict[str, Prediction] = field(default_factory=dict)
