"""The public names of every kaito package: declared, importable, and not drifting silently.

Every module declares `__all__`; every name a package re-exports comes from one of its modules' `__all__`,
so a rename in a module fails here instead of breaking users at import time.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

PACKAGES = [
    "kaito.api",
    "kaito.ctrl",
    "kaito.runtimes",
    "kaito.provisioners",
    "kaito.controllers",
    "kaito.sim",
    "kaito.sim.server",
    "kaito.sim.workloads",
    "kaito.sim.cloud",
    "kaito.sim.cloud.arm",
    "kaito.tune",
]


def _modules(package: ModuleType) -> list[ModuleType]:
    return [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_")
    ]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_module_declares_all(name: str) -> None:
    package = importlib.import_module(name)
    missing = [m.__name__ for m in _modules(package) if not hasattr(m, "__all__")]
    assert missing == [], f"modules without __all__: {missing}"


@pytest.mark.parametrize("name", PACKAGES)
def test_package_exports_come_from_its_modules(name: str) -> None:
    package = importlib.import_module(name)
    declared: dict[str, object] = {}
    for module in _modules(package):
        for attr in getattr(module, "__all__", []):
            declared.setdefault(attr, getattr(module, attr))
    exported = list(getattr(package, "__all__", []))
    assert len(exported) == len(set(exported)), "duplicate names in __all__"
    for attr in exported:
        assert attr in declared, f"{name}.{attr} is not in any module's __all__"
        assert getattr(package, attr) is declared[attr], f"{name}.{attr} is not the module's object"


SNAPSHOTS = Path(__file__).parent / "public_names"


@pytest.mark.parametrize("name", [p for p in PACKAGES if p != "kaito.sim"])
def test_public_names_match_the_reviewed_snapshot(name: str) -> None:
    """A name added to or dropped from a package is an API change: update public_names/<package>.txt."""
    expected = (SNAPSHOTS / f"{name}.txt").read_text().split()
    actual = sorted(importlib.import_module(name).__all__)
    added, dropped = sorted(set(actual) - set(expected)), sorted(set(expected) - set(actual))
    assert (added, dropped) == ([], []), f"{name}: new public names {added}, removed {dropped}"
