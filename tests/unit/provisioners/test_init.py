"""kaito.provisioners re-exports exactly the union of its modules' public names."""

from __future__ import annotations

import importlib

import kaito.provisioners as package

MODULES = ["aks", "aks_pool", "base", "byo", "karpenter", "karpenter_claim"]
PRIVATE = ["_aks_transport"]  # loads the Azure SDK; used by aks when a provisioner is built, not re-exported


def test_all_is_the_union_of_the_modules_all() -> None:
    expected: set[str] = set()
    for name in MODULES:
        module = importlib.import_module(f"kaito.provisioners.{name}")
        expected |= set(module.__all__)
        for public in module.__all__:
            assert getattr(package, public) is getattr(module, public)
    assert set(package.__all__) == expected
    assert package.__all__ == sorted(package.__all__)


def test_every_module_is_listed() -> None:
    from pathlib import Path

    found = sorted(p.stem for p in Path(package.__file__).parent.glob("*.py") if p.stem != "__init__")
    assert found == sorted([*MODULES, *PRIVATE])
    for name in PRIVATE:
        module = importlib.import_module(f"kaito.provisioners.{name}")
        assert not set(module.__all__) & set(package.__all__)
