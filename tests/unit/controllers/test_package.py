"""kaito.controllers re-exports exactly the union of its modules' `__all__`, and every name resolves."""

from __future__ import annotations

import importlib
import pkgutil

import kaito.controllers


def test_public_names_are_the_union_of_the_modules() -> None:
    expected: set[str] = set()
    for info in pkgutil.iter_modules(kaito.controllers.__path__):
        module = importlib.import_module(f"kaito.controllers.{info.name}")
        names = set(module.__all__)
        assert not names & expected, f"{info.name} exports a name another module exports: {names & expected}"
        expected |= names
    assert set(kaito.controllers.__all__) == expected
    assert kaito.controllers.__all__ == sorted(expected)
    for name in expected:
        assert getattr(kaito.controllers, name) is not None
