"""A small registry per plugin kind: built-ins by name, third parties by entry point or ``module:attr``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from dltune.errors import PluginError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to plugin factories for one kind (``kind`` is used in messages, ``group`` for entry points)."""

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._entry_points_loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@SAMPLERS.register("random")``."""

        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: T) -> None:
        if name in self._items and self._items[name] is not obj:
            raise PluginError(f"a {self.kind} named {name!r} is already registered")
        self._items[name] = obj

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name in self._items:
                continue
            try:
                self._items[ep.name] = ep.load()
            except Exception as exc:  # a broken third-party plugin must not break the built-ins
                raise PluginError(
                    f"the {self.kind} plugin {ep.name!r} (entry point {ep.value}) failed to load: {exc}",
                    f"fix or uninstall the package that provides the {self.group!r} entry point",
                ) from exc

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._items)

    def __iter__(self) -> Iterator[tuple[str, T]]:
        self._load_entry_points()
        return iter(sorted(self._items.items()))

    def get(self, name: str) -> T:
        """Look a plugin up by registered name, or import it from ``module:attr``."""
        if ":" in name:
            return self._import(name)
        if name not in self._items:
            self._load_entry_points()
        if name not in self._items:
            choices = ", ".join(self.names())
            raise PluginError(
                f"unknown {self.kind} {name!r}; choices: {choices}",
                f"use one of those, or 'package.module:attr' for your own {self.kind}",
            )
        return self._items[name]

    def _import(self, ref: str) -> T:
        module_name, _, attr = ref.partition(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise PluginError(
                f"cannot import {module_name!r} for {self.kind} {ref!r}: {exc}",
                "check the module is installed or on PYTHONPATH",
            ) from exc
        try:
            obj: T = getattr(module, attr)
        except AttributeError:
            raise PluginError(
                f"module {module_name!r} has no attribute {attr!r} (asked for {self.kind} {ref!r})",
                f"define {attr} in {module_name}, or fix the name after ':'",
            ) from None
        return obj
