"""The public face of kaito.sim and its rooms: every exported name resolves, is public where it lives, and
the top level stays what a user of the embedded cluster needs."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import kaito.sim

PACKAGES = ["kaito.sim", "kaito.sim.server", "kaito.sim.workloads", "kaito.sim.cloud", "kaito.sim.cloud.arm"]


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(kaito.sim.__path__, "kaito.sim."))


@pytest.mark.parametrize("package", PACKAGES)
def test_each_exported_name_is_public_in_the_module_that_defines_it(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__ == sorted(module.__all__, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in module.__all__:
        value = getattr(module, name)
        home = importlib.import_module(getattr(value, "__module__", None) or package)
        if home.__name__.startswith("kaito.sim") and hasattr(home, "__all__") and home is not module:
            assert name in home.__all__, f"{package}.{name} is not in {home.__name__}.__all__"


@pytest.mark.parametrize("name", _modules())
def test_every_module_declares_all(name: str) -> None:
    module = importlib.import_module(name)
    assert isinstance(getattr(module, "__all__", None), list), f"{name} declares no __all__"
    for exported in module.__all__:
        assert hasattr(module, exported), f"{name}.__all__ names {exported}, which it does not define"


def test_the_top_level_is_the_clusters_face_and_the_internals_stay_in_their_rooms() -> None:
    assert "Cluster" in kaito.sim.__all__ and "write_kubeconfig" in kaito.sim.__all__
    for internal in ("Store", "ApiServer", "WorkloadSimulator", "ArmServer", "Strategy"):
        assert internal not in kaito.sim.__all__


def test_at_most_twelve_modules_stay_at_the_top_level() -> None:
    top = [m for m in pkgutil.iter_modules(kaito.sim.__path__) if not m.ispkg]
    assert len(top) + 1 <= 12  # and __init__
