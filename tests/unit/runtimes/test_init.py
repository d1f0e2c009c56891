"""The package re-exports exactly the public names of its modules (a test fails if they drift)."""

from __future__ import annotations

import importlib
import pkgutil

import kaito.runtimes as runtimes


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(runtimes.__path__) if not m.name.startswith("_"))


def test_all_is_the_union_of_the_modules_all() -> None:
    union: set[str] = set()
    for name in _modules():
        union |= set(importlib.import_module(f"kaito.runtimes.{name}").__all__)
    assert sorted(runtimes.__all__) == sorted(union)
    for name in runtimes.__all__:
        assert hasattr(runtimes, name), name


def test_every_module_declares_all_and_a_docstring() -> None:
    for name in _modules():
        module = importlib.import_module(f"kaito.runtimes.{name}")
        assert module.__doc__ and len(module.__doc__) > 80, name
        assert isinstance(module.__all__, list), name
