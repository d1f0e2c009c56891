"""The package re-exports exactly the public names of its modules."""

from __future__ import annotations

import importlib
import pkgutil

import kaito.ctrl


def test_package_all_is_the_union_of_module_alls() -> None:
    union: set[str] = set()
    for info in pkgutil.iter_modules(kaito.ctrl.__path__):
        module = importlib.import_module(f"kaito.ctrl.{info.name}")
        names = set(module.__all__)
        assert not names & union, f"{info.name} re-declares {names & union}"
        union |= names
        for name in names:
            assert getattr(kaito.ctrl, name) is getattr(module, name)
    assert set(kaito.ctrl.__all__) == union
    assert len(kaito.ctrl.__all__) == len(union)
