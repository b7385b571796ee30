"""The dataset-file contract: ``path/to/file.py[:attr]`` or ``package.module[:attr]``.

The file defines ``dataset`` (a Dataset / IterableDataset, or a zero-argument callable returning one)
and optionally ``collate_fn``, ``sampler`` and ``batch_sampler`` (an instance, or a callable taking the
dataset), and ``worker_init_fn``. A file is imported under its own module name with its folder on
``sys.path``, so that workers started with spawn or forkserver can unpickle classes defined in it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from torch.utils.data import Dataset, IterableDataset

from dltune.engine.build import Extras
from dltune.errors import DatasetFileError


@dataclass
class DatasetSpec:
    """What a dataset file provides, resolved."""

    target: str
    dataset: Any
    extras: Extras
    module: ModuleType

    @property
    def is_iterable(self) -> bool:
        return isinstance(self.dataset, IterableDataset)

    @property
    def from_file(self) -> tuple[str, ...]:
        """Names of the optional objects the file defines (for rendering the DataLoader call)."""
        return tuple(
            n
            for n in ("sampler", "batch_sampler", "collate_fn", "worker_init_fn")
            if getattr(self.extras, n) is not None
        )

    @property
    def name(self) -> str:
        return Path(self.module.__file__ or self.target).stem


def split_target(target: str) -> tuple[str, str]:
    """``'a/b.py:train'`` -> (``'a/b.py'``, ``'train'``); the attribute defaults to ``dataset``."""
    head, sep, attr = target.rpartition(":")
    if sep and attr and "/" not in attr and "\\" not in attr and not (len(head) == 1 and head.isalpha()):
        return head, attr
    return target, "dataset"


def fingerprint(target: str) -> str:
    """sha256 of the dataset file a target names ('' for an importable module name)."""
    path = Path(split_target(target)[0]).expanduser()
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
    except OSError:
        return ""


def same_target(a: str, b: str) -> bool:
    """Two targets name the same file and attribute (``./ds.py`` and ``ds.py`` are the same)."""
    (pa, aa), (pb, ab) = split_target(a), split_target(b)
    return aa == ab and (pa == pb or Path(pa).expanduser().resolve() == Path(pb).expanduser().resolve())


def _tail(exc: BaseException, frames: int = 4) -> str:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(lines[-frames - 1 :]).rstrip()


def import_dataset_module(source: str, fresh: bool = False) -> ModuleType:
    """Import a dataset file (or dotted module) so that worker processes can import it too.

    ``fresh``: run the file again even if this process imported it before (a new dataset object,
    no state left from earlier use)."""
    if not source.strip():
        raise DatasetFileError(
            "no dataset file given", "pass the .py file that defines `dataset = ...`, e.g. data/my_dataset.py"
        )
    if not source.endswith(".py") and "/" not in source and "\\" not in source:
        try:
            seen = source in sys.modules
            module = importlib.import_module(source)
            return importlib.reload(module) if fresh and seen else module
        except ModuleNotFoundError as exc:
            raise DatasetFileError(
                f"no dataset file or module named {source!r} ({exc})",
                "pass a path to a .py file, or an importable module name",
            ) from None
        except Exception as exc:
            raise DatasetFileError(
                f"importing module {source!r} raised {type(exc).__name__}: {exc}",
                f"fix the module; its traceback ends:\n{_tail(exc)}",
            ) from None
    path = Path(source).expanduser().resolve()
    if path.is_dir():
        raise DatasetFileError(
            f"{source} is a folder, not a dataset file",
            "pass the .py file in it that defines `dataset = ...`",
        )
    if not path.is_file():
        raise DatasetFileError(
            f"dataset file {source} does not exist", "check the path; the file must define `dataset = ...`"
        )
    if path.suffix != ".py":
        raise DatasetFileError(
            f"dataset file {source} is not a Python file (.py)",
            "pass the .py file that defines `dataset = ...` (data files are read by that code)",
        )
    name = path.stem
    if not name.isidentifier():
        raise DatasetFileError(
            f"dataset file {path.name} is not importable: {name!r} is not a Python module name",
            "rename it with letters, digits and underscores only, e.g. my_dataset.py",
        )
    existing = sys.modules.get(name)
    if existing is not None and Path(getattr(existing, "__file__", None) or "").resolve() == path:
        if not fresh:
            return existing
        del sys.modules[name]
        existing = None
    if existing is not None:
        raise DatasetFileError(
            f"dataset file {path.name} has the same name as the already imported module {name!r}",
            "rename the file (worker processes import it by that name)",
        )
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # spawned workers inherit sys.path and import the file by name
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise DatasetFileError(
            f"{path.name} line {exc.lineno}: syntax error: {exc.msg}",
            f"fix the syntax at {path}:{exc.lineno}" + (f"\n    {exc.text.strip()}" if exc.text else ""),
        ) from None
    except BaseException as exc:
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise DatasetFileError(
            f"importing {path.name} raised {type(exc).__name__}: {exc}",
            f"fix the file; its traceback ends:\n{_tail(exc)}",
        ) from None
    return module


def _is_dataset(obj: Any) -> bool:
    if isinstance(obj, type):
        return False  # a class is a factory, not a dataset
    if isinstance(obj, (Dataset, IterableDataset)):
        return True
    return hasattr(obj, "__getitem__") and hasattr(obj, "__len__") and not isinstance(obj, (str, bytes, dict))


def _resolve_optional(module: ModuleType, attr: str, dataset: Any, where: str) -> Any:
    obj = getattr(module, attr, None)
    if obj is None:
        return None
    if attr in ("sampler", "batch_sampler") and callable(obj) and not hasattr(obj, "__iter__"):
        try:
            obj = obj(dataset)
        except Exception as exc:
            raise DatasetFileError(
                f"{where}: calling {attr}(dataset) raised {type(exc).__name__}: {exc}",
                f"fix {attr}; its traceback ends:\n{_tail(exc)}",
            ) from None
        if not hasattr(obj, "__iter__"):
            raise DatasetFileError(
                f"{where}: {attr}(dataset) returned {type(obj).__name__}, not a sampler",
                f"return a torch.utils.data.Sampler (or any iterable of indices) from {attr}",
            )
    elif attr in ("sampler", "batch_sampler") and not hasattr(obj, "__iter__"):
        raise DatasetFileError(
            f"{where}: {attr} is a {type(obj).__name__}, not a sampler",
            f"define {attr} as a Sampler instance or a function taking the dataset",
        )
    if attr in ("collate_fn", "worker_init_fn") and not callable(obj):
        raise DatasetFileError(
            f"{where}: {attr} is a {type(obj).__name__}, not a function",
            f"define {attr} as a function (or remove it to use the default)",
        )
    return obj


def load_dataset(target: str, fresh: bool = False) -> DatasetSpec:
    """Import a dataset file and resolve what it defines. Raises DatasetFileError with one clear sentence.

    ``fresh``: import the file again even if it was imported before (see import_dataset_module)."""
    source, attr = split_target(target)
    module = import_dataset_module(source, fresh)
    where = Path(source).name
    if not hasattr(module, attr):
        defined = sorted(k for k, v in vars(module).items() if _is_dataset(v) and not k.startswith("_"))
        hint = (
            f"define `{attr} = YourDataset(...)` (or a zero-argument function returning one) in {where}"
            + (f", or pick one with {where}:{defined[0]}" if defined else "")
        )
        raise DatasetFileError(f"{where} defines no {attr!r}", hint)
    obj = getattr(module, attr)
    if not _is_dataset(obj) and callable(obj):
        try:
            obj = obj()
        except Exception as exc:
            raise DatasetFileError(
                f"{where}: calling {attr}() raised {type(exc).__name__}: {exc}",
                f"fix the factory; its traceback ends:\n{_tail(exc)}",
            ) from None
    if not _is_dataset(obj):
        raise DatasetFileError(
            f"{where}: {attr} is a {type(obj).__name__}, not a torch Dataset",
            f"set {attr} to a torch.utils.data.Dataset / IterableDataset (or an object with __getitem__ "
            "and __len__), or to a zero-argument function returning one",
        )
    extras = Extras(
        collate_fn=_resolve_optional(module, "collate_fn", obj, where),
        sampler=_resolve_optional(module, "sampler", obj, where),
        batch_sampler=_resolve_optional(module, "batch_sampler", obj, where),
        worker_init_fn=_resolve_optional(module, "worker_init_fn", obj, where),
    )
    if isinstance(obj, IterableDataset) and (extras.sampler is not None or extras.batch_sampler is not None):
        raise DatasetFileError(
            f"{where}: {attr} is an IterableDataset, which takes no sampler or batch_sampler",
            "remove sampler / batch_sampler from the file, or make the dataset map-style",
        )
    return DatasetSpec(target=target, dataset=obj, extras=extras, module=module)
