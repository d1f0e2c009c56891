"""The package exports what a controller author needs, each name once, and nothing drifts in silently."""

from __future__ import annotations

import importlib
import pkgutil

import kaito.ctrl


def test_the_surface_stays_small() -> None:
    # which names exactly is pinned by tests/unit/public_names/kaito.ctrl.txt (see test_public_api.py)
    assert len(kaito.ctrl.__all__) <= 75  # it was 117, test doubles and machinery included
    assert kaito.ctrl.__all__ == sorted(kaito.ctrl.__all__)


def test_each_public_name_comes_from_exactly_one_public_module() -> None:
    seen: dict[str, str] = {}
    public_modules = sorted(set(kaito.ctrl._EXPORTS.values()))
    for module in (importlib.import_module(f"kaito.ctrl.{name}") for name in public_modules):
        for name in module.__all__:
            assert name not in seen, f"{name} is exported by both {seen[name]} and {module.__name__}"
            seen[name] = module.__name__
            assert getattr(kaito.ctrl, name) is getattr(module, name)
    assert set(seen) == set(kaito.ctrl.__all__)


def test_names_load_on_first_use_and_dir_lists_them() -> None:
    assert set(kaito.ctrl.__all__) <= set(dir(kaito.ctrl))
    assert kaito.ctrl.Client is importlib.import_module("kaito.ctrl.client").Client
    try:
        kaito.ctrl.NoSuchName  # noqa: B018
    except AttributeError as error:
        assert "NoSuchName" in str(error)
    else:
        raise AssertionError("an unknown name resolved")


def test_test_doubles_and_machinery_stay_out_of_the_package_namespace() -> None:
    for name in ("FakeClock", "MockTransport", "MockResponse", "MockStream", "WorkQueue", "Reflector"):
        assert name not in kaito.ctrl.__all__
    for info in pkgutil.iter_modules(kaito.ctrl.__path__):
        module = importlib.import_module(f"kaito.ctrl.{info.name}")
        for name in module.__all__:
            assert hasattr(module, name), f"kaito.ctrl.{info.name}.__all__ lists {name}, which it lacks"
