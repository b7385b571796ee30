"""Model objects <-> plain values (JSON, TOML tables): a typed reader driven by the dataclasses' annotations.

``from_json`` checks every field against its annotation and names the first wrong one as a path
(``trials[3].metrics.cv``); ``dltune.store`` uses it for every file, ``MeasureSettings.from_dict`` for
the ``[measure]`` table of a config.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class SchemaError(ValueError):
    """A field does not match the model; ``path`` says which (``trials[3].metrics.cv``)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path or 'the file'}: {problem}")
        self.path = path
        self.problem = problem


def to_json(obj: Any) -> Any:
    """A model object as plain JSON values (dataclasses -> dicts, tuples -> lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json(v) for v in obj]
    return obj


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def from_json(tp: Any, value: Any, path: str = "") -> Any:
    """``value`` (parsed JSON) as an instance of the type ``tp``, checked field by field.

    Unknown keys are ignored (a newer dltune may add fields); a missing field takes its default, and
    a missing field without one is an error, as is a value of the wrong type."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return from_json(arg, value, path)
            except SchemaError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else SchemaError(path, f"{value!r:.80} is not {_name(tp)}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp, value, path)
    if origin in (list, tuple, Sequence):
        if not isinstance(value, list):
            raise SchemaError(path, f"{value!r:.80} is not a list")
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise SchemaError(path, f"holds {len(value)} values, not {len(args)}")
            return tuple(
                from_json(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))
            )
        items = [from_json(args[0] if args else Any, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is not list else items
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            raise SchemaError(path, f"{value!r:.80} is not a table")
        vt = args[1] if args else Any
        return {str(k): from_json(vt, v, f"{path}.{k}") for k, v in value.items()}
    return _scalar(tp, value, path)


def decode(cls: type[T], value: Any) -> T:
    """``value`` as a ``cls`` (a model dataclass), checked field by field (see from_json)."""
    return _dataclass(cls, value, "")


def _scalar(tp: Any, value: Any, path: str) -> Any:
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SchemaError(path, f"{value!r:.80} is not a number")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(path, f"{value!r:.80} is not an integer")
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            raise SchemaError(path, f"{value!r:.80} is not {_name(tp)}")
        return value
    raise SchemaError(path, f"has a type dltune cannot read ({tp!r})")  # a model bug, caught by tests


def _dataclass(cls: type[T], value: Any, path: str) -> T:
    if not isinstance(value, dict):
        raise SchemaError(path, f"{value!r:.80} is not a table")
    hints = _hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        where = f"{path}.{f.name}" if path else f.name
        if f.name in value:
            kwargs[f.name] = from_json(hints[f.name], value[f.name], where)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SchemaError(where, "is missing")
    return cls(**kwargs)


def _name(tp: Any) -> str:
    return {str: "a string", bool: "true or false", int: "an integer", float: "a number"}.get(tp, str(tp))
