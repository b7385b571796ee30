"""LoaderConfig: every DataLoader knob, typed and frozen (data only: no torch).

What can be checked without torch is checked here (field names and types, from TOML or JSON); what
needs the installed torch (start methods, registered plugins, a CUDA device) is checked by
``dltune.engine.config.validate`` before anything is built.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dltune.errors import ConfigError, UsageError

PIN_MEMORY = {"off": False, "pin_memory": True, "device-prefetch": True}
"""DataLoader's ``pin_memory`` for each built-in pinning strategy. A strategy from a plugin is looked up
in the engine's registry where it matters (building a loader); rendered elsewhere, any strategy but
'off' pins."""

_PARAM_FIELDS = ("sampler_params", "batch_sampler_params", "collate_params")


@dataclass(frozen=True)
class LoaderConfig:
    """A DataLoader configuration.

    Samplers, batch samplers, collate functions and pinning strategies are named (registry names or
    ``module:attr``) with their parameters, so a config can be saved, compared and swept. Objects the
    dataset file defines (``collate_fn``, ``sampler``, ``batch_sampler``) are used when the config
    names none. With a named ``batch_sampler``, ``batch_size`` and ``drop_last`` go to that batch
    sampler (DataLoader itself then gets neither).
    """

    batch_size: int | None = 1
    shuffle: bool = False
    sampler: str | None = None
    sampler_params: Mapping[str, Any] = field(default_factory=dict)
    batch_sampler: str | None = None
    batch_sampler_params: Mapping[str, Any] = field(default_factory=dict)
    num_workers: int = 0
    collate: str | None = None
    collate_params: Mapping[str, Any] = field(default_factory=dict)
    pinning: str = "off"
    device: str = "cuda"
    drop_last: bool = False
    timeout: float = 0
    prefetch_factor: int | None = None
    persistent_workers: bool = False
    multiprocessing_context: str | None = None
    in_order: bool = True
    seed: int | None = None
    threads: int | None = None
    """Intra-op threads of each loading process: ``torch.set_num_threads`` in every worker (through
    ``worker_init_fn``; DataLoader's own default is 1) and, under torchrun, ``OMP_NUM_THREADS`` for the
    ranks. None: leave torch's defaults."""

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoaderConfig:
        """Build from a dict (TOML table, JSON). ``pin_memory = true/false`` is accepted for ``pinning``."""
        data = dict(data)
        if "pin_memory" in data:
            pin = data.pop("pin_memory")
            if not isinstance(pin, bool):
                raise ConfigError("pin_memory", f"{pin!r} is not true or false")
            data.setdefault("pinning", "pin_memory" if pin else "off")
        known = {f.name: f for f in fields(cls)}
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, list(known), n=1)
                raise ConfigError(
                    key,
                    "is not a LoaderConfig field",
                    f"did you mean {close[0]!r}?" if close else f"valid fields: {', '.join(known)}",
                )
        values = {k: _coerce(k, v) for k, v in data.items()}
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | Path, table: str = "loader") -> LoaderConfig:
        """Read a TOML file; its ``[loader]`` table if there is one, else the top level."""
        p = Path(path)
        try:
            doc = tomllib.loads(p.read_text())
        except FileNotFoundError:
            raise UsageError(f"config file {p} does not exist", "check the path") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{p} is not valid TOML: {exc}", "fix the TOML syntax at that line") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"cannot read config file {p}: {exc}", "check the path and its permissions"
            ) from None
        return refuse_code_refs(cls.from_dict(doc.get(table, doc)), str(p))

    def replace(self, **changes: Any) -> LoaderConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in _PARAM_FIELDS:
            d[k] = dict(d[k])
        return d

    # ---- derived --------------------------------------------------------------------------------
    @property
    def pin_memory(self) -> bool:
        return PIN_MEMORY.get(self.pinning, self.pinning != "off")

    def code_refs(self) -> list[str]:
        """The plugin names that would import a module (``module:attr``), as ``field='name'``."""
        named = {
            "sampler": self.sampler,
            "batch_sampler": self.batch_sampler,
            "collate": self.collate,
            "pinning": self.pinning,
        }
        return [f"{k}={v!r}" for k, v in named.items() if v and ":" in v]

    def key(self) -> str:
        """A short stable identifier, e.g. ``w4-b64-pf2-pin_memory-persist-fork``."""
        parts = [f"w{self.num_workers}", f"b{self.batch_size}"]
        if self.num_workers:
            parts.append(f"pf{self.prefetch_factor or 2}")
        parts.append(self.pinning)
        if self.persistent_workers:
            parts.append("persist")
        if self.multiprocessing_context:
            parts.append(self.multiprocessing_context)
        for name in (self.sampler, self.batch_sampler, self.collate):
            if name:
                parts.append(name.rpartition(":")[2])
        if not self.in_order:
            parts.append("unordered")
        if self.threads:
            parts.append(f"t{self.threads}")
        return "-".join(parts)

    def label(self) -> str:
        """'w4 b128 pf2 persist pin': the knobs that differ between sweep configurations, for tables."""
        w = self.num_workers
        parts = [f"w{w}", f"b{self.batch_size}"]
        if w:
            parts.append(f"pf{self.prefetch_factor or 2}")
            if self.persistent_workers:
                parts.append("persist")
            if self.multiprocessing_context:
                parts.append(self.multiprocessing_context)
        if self.pinning != "off":
            parts.append("pin" if self.pinning == "pin_memory" else self.pinning)
        return " ".join(parts)

    # ---- rendering ------------------------------------------------------------------------------
    def loader_kwargs(self, pin_memory: bool | None = None) -> dict[str, Any]:
        """Plain keyword arguments for ``torch.utils.data.DataLoader`` (no sampler/collate objects).

        ``pin_memory``: the pinning strategy's value when the caller resolved it (the engine does)."""
        kw: dict[str, Any] = {}
        if not self.batch_sampler:
            kw["batch_size"] = self.batch_size
            if self.shuffle:
                kw["shuffle"] = True
            if self.drop_last:
                kw["drop_last"] = True
        kw["num_workers"] = self.num_workers
        kw["pin_memory"] = self.pin_memory if pin_memory is None else pin_memory
        if self.num_workers:
            kw["prefetch_factor"] = self.prefetch_factor or 2
            kw["persistent_workers"] = self.persistent_workers
            if self.multiprocessing_context:
                kw["multiprocessing_context"] = self.multiprocessing_context
        if self.timeout:
            kw["timeout"] = self.timeout
        if not self.in_order:
            kw["in_order"] = False
        return kw

    def to_code(self, dataset_expr: str = "dataset", from_file: tuple[str, ...] = ()) -> str:
        """The ``DataLoader(...)`` call a user pastes (dltune helpers for named samplers / collate).

        ``from_file`` names objects the dataset file defines (``collate_fn``, ``sampler``...); they are
        passed by their own names where the config does not replace them.
        """
        args = [dataset_expr]
        replaced = {
            "sampler": bool(self.sampler or self.batch_sampler),
            "batch_sampler": bool(self.sampler or self.batch_sampler),
            "collate_fn": bool(self.collate),
            "worker_init_fn": bool(self.threads and self.num_workers),
        }
        args += [f"{name}={name}" for name in from_file if not replaced.get(name, False)]
        if self.sampler:
            args.append(
                f"sampler=dltune.make_sampler({self.sampler!r}, {dataset_expr}{_params(self.sampler_params, self.seed)})"
            )
        if self.batch_sampler:
            args.append(
                f"batch_sampler=dltune.make_batch_sampler({self.batch_sampler!r}, {dataset_expr}, "
                f"batch_size={self.batch_size}, drop_last={self.drop_last}{_params(self.batch_sampler_params, self.seed)})"
            )
        if self.collate and self.collate != "default":
            args.append(
                f"collate_fn=dltune.make_collate({self.collate!r}{_params(self.collate_params, None)})"
            )
        if self.threads and self.num_workers:
            inner = ", worker_init_fn" if "worker_init_fn" in from_file else ""
            args.append(f"worker_init_fn=dltune.WorkerThreads({self.threads}{inner})")
        kwargs = self.loader_kwargs()
        if "batch_sampler" in from_file and not replaced["batch_sampler"]:
            for k in ("batch_size", "shuffle", "drop_last"):
                kwargs.pop(k, None)
        args += [f"{k}={v!r}" for k, v in kwargs.items()]
        code = "DataLoader(" + ", ".join(args) + ")"
        if self.pinning == "device-prefetch":
            code = f"dltune.DevicePrefetcher({code}, device={self.device!r})"
        return code


def _params(params: Mapping[str, Any], seed: int | None) -> str:
    items = dict(params)
    if seed is not None:
        items.setdefault("seed", seed)
    return "".join(f", {k}={v!r}" for k, v in items.items())


_BOOL = {"shuffle", "drop_last", "persistent_workers", "in_order"}
_INT = {"num_workers"}
_OPT_INT = {"batch_size", "prefetch_factor", "seed", "threads"}
_OPT_STR = {"sampler", "batch_sampler", "collate", "multiprocessing_context"}


def _coerce(key: str, value: Any) -> Any:
    """Check a value's type for its field; say which field and what it should be."""

    def bad(kind: str) -> ConfigError:
        return ConfigError(key, f"{value!r} is not {kind}")

    if key in _BOOL:
        if not isinstance(value, bool):
            raise bad("true or false")
    elif key in _INT or key in _OPT_INT:
        if value is None and key in _OPT_INT:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
    elif key in _OPT_STR or key in ("pinning", "device"):
        if value is None and key in _OPT_STR:
            return None
        if not isinstance(value, str):
            raise bad("a name (string)")
    elif key in _PARAM_FIELDS:
        if not isinstance(value, Mapping):
            raise bad("a table of parameters")
        return dict(value)
    elif key == "timeout":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number of seconds")
        return float(value)
    return value


TRUST_ENV = "DLTUNE_TRUST_FILES"
"""Set to 1 to let files (configs, runs, baselines, recommendations) name plugins as ``module:attr``."""


def refuse_code_refs(config: LoaderConfig, source: str) -> LoaderConfig:
    """A file is data: a configuration read from one may name registered plugins (built-ins, entry
    points) but not ``module:attr``, which would import and run code the file chooses. Return the
    config, or raise UsageError naming the file and the field (opt in with DLTUNE_TRUST_FILES=1)."""
    refs = config.code_refs()
    if refs and os.environ.get(TRUST_ENV) != "1":
        raise UsageError(
            f"{source} names code to import ({', '.join(refs)}); dltune runs no code a file names",
            "register the plugin under its entry-point group (dltune.samplers, dltune.batch_samplers, "
            "dltune.collate, dltune.pinning) or define it in the dataset file; for a file you wrote "
            f"and trust, set {TRUST_ENV}=1",
        )
    return config
