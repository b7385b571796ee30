"""Sweep spaces: which configurations to measure, derived from the machine and pruned before running.

A space comes from a TOML file in configs/ (``[space]`` and ``[measure]`` tables), with command-line
overrides on top. ``expand`` turns it into configurations and lists what it dropped, and why.
"""

from __future__ import annotations

import difflib
import itertools
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dltune.engine.config import validate
from dltune.errors import ConfigError, DltuneError, UsageError
from dltune.model.hardware import HardwareFacts
from dltune.model.loader import LoaderConfig, refuse_code_refs
from dltune.model.preflight import Preflight
from dltune.model.results import REFERENCE_CORES, REFERENCE_DEFAULTS, SWEEP
from dltune.model.settings import MeasureSettings
from dltune.model.space import Pruned, SweepSpace
from dltune.units import human_bytes

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


@dataclass(frozen=True)
class Planned:
    config: LoaderConfig
    role: str  # "sweep", or a reference name


def auto_workers(usable: int, cap: int = 64) -> tuple[int, ...]:
    """0, 1, 2, powers of two, the usable core count and its multiples up to 4x (waiting datasets gain)."""
    top = min(cap, max(4, 4 * usable))
    counts = {0, 1, 2, usable, 2 * usable, top}
    p = 4
    while p <= top:
        counts.add(p)
        p *= 2
    return tuple(sorted(c for c in counts if c <= top))


def find_config(name: str) -> Path:
    """A config by path, or by name in configs/ (``quick`` -> configs/quick.toml)."""
    p = Path(name)
    if p.suffix == ".toml" or p.exists():
        if not p.is_file():
            raise UsageError(
                f"config file {p} does not exist", f"use a path, or one of: {', '.join(available())}"
            )
        return p
    candidate = CONFIG_DIR / f"{name}.toml"
    if not candidate.is_file():
        raise UsageError(f"no config named {name!r}", f"use a TOML path, or one of: {', '.join(available())}")
    return candidate


TABLES = ("space", "measure")
"""The tables a config file may hold; anything else (a typo such as [mesure]) is an error, not ignored."""


def available() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))


LOWEST = {"workers": 0, "batch_size": 1, "prefetch_factor": 1, "max_workers": 0}


def _tuple(value: Any, key: str, kind: type) -> tuple[Any, ...]:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ConfigError(f"space.{key}", "is an empty list", "list at least one value, or remove the key")
    for v in values:
        if not (v is None and kind is str) and (
            not isinstance(v, kind) or (kind is int and isinstance(v, bool))
        ):
            want = {int: "an integer", bool: "true or false", str: "a name (string)"}.get(kind, kind.__name__)
            raise ConfigError(f"space.{key}", f"{v!r} is not {want}")
        lowest = LOWEST.get(key, 0)
        if isinstance(v, int) and not isinstance(v, bool) and v < lowest:
            raise ConfigError(f"space.{key}", f"{v!r} is below {lowest}")
    return tuple(values)


def space_from_dict(d: dict[str, Any]) -> SweepSpace:
    d = dict(d)
    known = {
        "workers",
        "batch_size",
        "prefetch_factor",
        "pin_memory",
        "persistent_workers",
        "start_method",
        "loader",
        "references",
        "max_workers",
        "threads",
    }
    for k in d:
        if k not in known:
            raise ConfigError(f"space.{k}", "is not a sweep setting", f"valid: {', '.join(sorted(known))}")
    kw: dict[str, Any] = {}
    if "workers" in d:
        kw["workers"] = "auto" if d["workers"] == "auto" else _tuple(d["workers"], "workers", int)
    for k, kind in (("batch_size", int), ("prefetch_factor", int), ("persistent_workers", bool)):
        if k in d:
            kw[k] = _tuple(d[k], k, kind)
    if "start_method" in d:
        methods = _tuple(d["start_method"], "start_method", str)
        for m in methods:
            if m not in (None, "", "default", "fork", "forkserver", "spawn"):
                raise ConfigError("space.start_method", f"{m!r} is not fork, forkserver, spawn or default")
        kw["start_method"] = tuple(None if v in ("default", "") else v for v in methods)
    if "pin_memory" in d:
        pin = d["pin_memory"]
        if pin not in ("auto", "on", "off", "both"):
            raise ConfigError("space.pin_memory", f"{pin!r} is not auto, on, off or both")
        kw["pin_memory"] = pin
    if "loader" in d:
        refuse_code_refs(LoaderConfig.from_dict(d["loader"]), "[space.loader]")  # fail early, and run no code
        kw["base"] = dict(d["loader"])
    if "references" in d:
        if not isinstance(d["references"], bool):
            raise ConfigError("space.references", f"{d['references']!r} is not true or false")
        kw["references"] = d["references"]
    if "max_workers" in d:
        (kw["max_workers"],) = _tuple(d["max_workers"], "max_workers", int)
    if "threads" in d:
        kw["threads"] = _tuple(d["threads"], "threads", int)
        if any(t < 1 for t in kw["threads"]):
            raise ConfigError("space.threads", f"{d['threads']!r}: threads are integers >= 1")
    return SweepSpace(**kw)


def load_space(name: str = "default") -> tuple[SweepSpace, MeasureSettings]:
    path = find_config(name)
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}", "fix the TOML syntax at that line") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config {path}: {exc}", "check the path and its permissions") from None
    for table, value in doc.items():
        if table not in TABLES or not isinstance(value, dict):
            close = difflib.get_close_matches(table, TABLES, n=1)
            raise UsageError(
                f"{path}: [{table}] is not a table dltune reads",
                f"did you mean [{close[0]}]?" if close else f"use [{'], ['.join(TABLES)}]",
            )
    try:
        space = space_from_dict(doc.get("space", {}))
        settings = MeasureSettings.from_dict(doc.get("measure", {}))
    except DltuneError as exc:
        hint = exc.hint or f"compare with {CONFIG_DIR / 'default.toml'}: every key, with its type and range"
        raise UsageError(f"{path}: {exc.message}", hint) from None
    return space, settings


def _pinnings(space: SweepSpace, gpu: bool) -> list[tuple[str, str | None]]:
    """(pinning, reason it is dropped or None)."""
    no_gpu = "pinning only helps when batches go to a GPU, and this machine has no CUDA device"
    if space.pin_memory == "off":
        return [("off", None)]
    if space.pin_memory == "on":
        return [("pin_memory", None if gpu else no_gpu)]
    return [("off", None), ("pin_memory", None if gpu else no_gpu)]


def expand(
    space: SweepSpace, hw: HardwareFacts, ds: Preflight, ranks: int = 1
) -> tuple[list[Planned], list[Pruned]]:
    """Every configuration of the space that can run here, and every one dropped with its reason.

    With ``ranks`` loaders on the machine (``--nproc-per-node``), the automatic worker counts are
    planned against each rank's share of the cores, and /dev/shm must hold every rank's batches."""
    base = LoaderConfig.from_dict(space.base) if space.base else LoaderConfig()
    pruned: list[Pruned] = []
    workers: tuple[int, ...] = (
        auto_workers(max(1, hw.cpu.usable // ranks))
        if isinstance(space.workers, str)
        else tuple(space.workers)
    )
    if space.max_workers is not None:
        over = [w for w in workers if w > space.max_workers]
        workers = tuple(w for w in workers if w <= space.max_workers)
        if over:
            pruned.append(
                Pruned(
                    f"num_workers={','.join(map(str, over))}", f"more than --max-workers {space.max_workers}"
                )
            )
    batch_sizes: tuple[int | None, ...] = space.batch_size
    file_batch_sampler = "batch_sampler" in ds.from_file and not (base.batch_sampler or base.sampler)
    if file_batch_sampler:
        batch_sizes = (None,)
        pruned.append(
            Pruned("batch_size=*", "the dataset file defines a batch_sampler, which fixes the batch size")
        )
    planned: dict[str, Planned] = {}

    def consider(cfg: LoaderConfig, role: str, reason: str | None = None) -> None:
        key = cfg.key()
        if key in planned:
            return
        if reason is None:
            reason = _shm_reason(cfg, hw, ds, ranks)
        if reason is None:
            try:
                validate(
                    cfg,
                    None,
                    file_sampler="sampler" in ds.from_file,
                    file_batch_sampler=file_batch_sampler,
                    accelerator=hw.has_gpu,
                )
                if ds.iterable and (cfg.sampler or cfg.batch_sampler or cfg.shuffle):
                    raise ConfigError("sampler", "an IterableDataset takes no sampler or shuffle")
            except DltuneError as exc:
                reason = exc.message
        if reason is not None:
            if role == SWEEP and all(p.key != key for p in pruned):
                pruned.append(Pruned(key, reason))
            return
        planned[key] = Planned(cfg, role)

    for bs, w, th in itertools.product(batch_sizes, workers, space.threads):
        if w == 0:
            for pin, why in _pinnings(space, hw.has_gpu):
                consider(replace(base, batch_size=bs, num_workers=0, pinning=pin, threads=th), SWEEP, why)
            continue
        for pf, pers, sm, (pin, why) in itertools.product(
            space.prefetch_factor, space.persistent_workers, space.start_method, _pinnings(space, hw.has_gpu)
        ):
            cfg = replace(
                base,
                batch_size=bs,
                num_workers=w,
                prefetch_factor=pf,
                persistent_workers=pers,
                multiprocessing_context=sm,
                pinning=pin,
                threads=th,
            )
            consider(cfg, SWEEP, why)
    if space.references:
        for bs in batch_sizes:
            consider(replace(base, batch_size=bs), REFERENCE_DEFAULTS)
            consider(
                replace(base, batch_size=bs, num_workers=hw.cpu.usable, prefetch_factor=2), REFERENCE_CORES
            )
    return list(planned.values()), pruned


def _shm_reason(cfg: LoaderConfig, hw: HardwareFacts, ds: Preflight, ranks: int = 1) -> str | None:
    """Batches in flight live in /dev/shm: drop configurations that cannot fit."""
    if not cfg.num_workers or not ds.bytes_per_sample or not cfg.batch_size or not hw.memory.shm_total:
        return None
    need = ranks * shm_needed(cfg, ds.bytes_per_sample)
    if need > 0.9 * hw.memory.shm_free:
        return (
            f"{f'{ranks} ranks x ' if ranks > 1 else ''}{cfg.num_workers} workers x prefetch {cfg.prefetch_factor or 2} x {cfg.batch_size} samples "
            f"need about {human_bytes(need)} of /dev/shm, and {human_bytes(hw.memory.shm_free)} is free"
        )
    return None


def shm_needed(cfg: LoaderConfig, bytes_per_sample: float) -> int:
    """Shared memory for the batches in flight: workers x prefetch_factor batches (plus the one in use)."""
    in_flight = cfg.num_workers * (cfg.prefetch_factor or 2) + 1
    return int(in_flight * (cfg.batch_size or 1) * bytes_per_sample)


def with_overrides(space: SweepSpace, **overrides: Any) -> SweepSpace:
    """Replace the space's values with the non-None command-line overrides."""
    return replace(space, **{k: v for k, v in overrides.items() if v is not None})
