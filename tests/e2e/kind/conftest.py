"""The kind cluster for the e2e suite (marker ``e2e_kind``, `make e2e-kind`): real Kubernetes, with Docker.

`kind_cluster` (session scope) does what a platform team does with a fresh cluster:

1. build the controller image from the Dockerfile (`docker build -t $KAITO_E2E_IMAGE .`, default
   kaito-py:0.1.0, the tag manifests/manager uses; KAITO_E2E_SKIP_BUILD=1 uses an image built already);
2. `kind create cluster` (name $KAITO_E2E_KIND_CLUSTER, default kaito-e2e; an existing one is reused);
3. `kind load docker-image` so the node has the image without a registry;
4. `kubectl apply --server-side -k manifests/default` and wait until the Deployment is Available;

and deletes the cluster at the end unless KAITO_E2E_KEEP_CLUSTER=1 or it existed before. Without Docker
(engine), kind or kubectl every test is skipped with the reason from `prerequisites.missing_prerequisite`,
which pytest's `-ra` summary prints.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from e2e.kind import prerequisites

ROOT = Path(__file__).resolve().parents[3]


def _run(argv: Sequence[str]) -> tuple[int, str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)
    return result.returncode, result.stderr


def _check(*argv: str, timeout: float = 600, stdin: str | None = None) -> str:
    result = subprocess.run(
        list(argv), input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"`{' '.join(argv)}` failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


@dataclass(frozen=True)
class KindCluster:
    name: str
    kubeconfig: Path
    image: str
    node: str  # the single kind node, which the BYO test labels as a GPU node

    def kubectl(self, *args: str, timeout: float = 300) -> str:
        return _check("kubectl", "--kubeconfig", str(self.kubeconfig), *args, timeout=timeout)


@pytest.fixture(scope="session")
def kind_cluster() -> Iterator[KindCluster]:
    reason = prerequisites.missing_prerequisite(shutil.which, _run)
    if reason is not None:
        pytest.skip(reason)
    image = os.environ.get("KAITO_E2E_IMAGE", "kaito-py:0.1.0")
    name = os.environ.get("KAITO_E2E_KIND_CLUSTER", "kaito-e2e")
    if os.environ.get("KAITO_E2E_SKIP_BUILD") != "1":
        _check("docker", "build", "-t", image, str(ROOT), timeout=1200)
    existed = name in _check("kind", "get", "clusters").split()
    with tempfile.TemporaryDirectory(prefix="kaito-kind-") as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        if existed:
            kubeconfig.write_text(_check("kind", "get", "kubeconfig", "--name", name))
        else:
            _check(
                "kind", "create", "cluster", "--name", name, "--kubeconfig", str(kubeconfig), "--wait", "180s"
            )
        try:
            _check("kind", "load", "docker-image", image, "--name", name)
            cluster = KindCluster(name, kubeconfig, image, f"{name}-control-plane")
            cluster.kubectl("apply", "--server-side", "-k", str(ROOT / "manifests" / "default"))
            if image != "kaito-py:0.1.0":
                cluster.kubectl(
                    "-n", "kaito-system", "set", "image", "deployment/kaito-controller", f"manager={image}"
                )
            cluster.kubectl(
                "-n", "kaito-system", "rollout", "status", "deployment/kaito-controller", "--timeout=300s"
            )
            yield cluster
        finally:
            if not existed and os.environ.get("KAITO_E2E_KEEP_CLUSTER") != "1":
                _check("kind", "delete", "cluster", "--name", name, "--kubeconfig", str(kubeconfig))
