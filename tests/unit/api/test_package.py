"""The public face of kaito.api: the package re-exports exactly its modules' public names."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import kaito.api


def test_package_all_is_the_union_of_its_modules_all() -> None:
    union: set[str] = set()
    for module_info in pkgutil.iter_modules(kaito.api.__path__):
        module = importlib.import_module(f"kaito.api.{module_info.name}")
        exported = set(module.__all__)
        assert exported <= set(vars(module)), f"{module_info.name}.__all__ names something it does not define"
        assert not exported & union, f"{module_info.name} exports a name another module already exports"
        union |= exported
    assert set(kaito.api.__all__) == union
    assert len(kaito.api.__all__) == len(union)
    for name in union:
        assert getattr(kaito.api, name) is not None


def test_api_imports_nothing_above_it() -> None:
    # `import *` loads every module of the package (a plain `import kaito.api` loads none: names load on use)
    code = "import sys\nfrom kaito.api import *\n"
    code += "print(' '.join(m for m in sys.modules if m.startswith('kaito')))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    assert "kaito.api.crd" in loaded
    assert [m for m in loaded if m != "kaito" and not m.startswith("kaito.api")] == []
