"""The install YAML is accepted by kaito.sim through `kubectl apply --server-side` (server-side validation,
field validation Strict), as `kubectl kustomize` renders the trees and as `kaito manifests` prints it; and the
ServiceAccount it creates gets its Role's rights and no others."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kaito import ctrl
from kaito.cli.install_manifests import install_objects
from kaito.sim.cluster import Cluster
from kaito.sim.server.authz import request_attributes, service_account_identity

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), input=stdin, capture_output=True, text=True, timeout=60, check=False)


def _applied(output: str) -> list[str]:
    return sorted(line.split()[0] for line in output.splitlines() if line.endswith("serverside-applied"))


def _expected(namespace: str) -> list[str]:
    names = []
    for obj in install_objects(namespace=namespace):
        group = obj["apiVersion"].rpartition("/")[0]
        resource = obj["kind"].lower() + (f".{group}" if group else "")
        names.append(f"{resource}/{obj['metadata']['name']}")
    return sorted(names)


@pytest.mark.parametrize(
    "source",
    ["manifests/default", "manifests/overlays/aks", "manifests/overlays/karpenter"],
)
async def test_kustomize_trees_apply_server_side(cluster: Cluster, source: str) -> None:
    applied = await asyncio.to_thread(
        _run,
        "kubectl",
        "--kubeconfig",
        str(cluster.kubeconfig),
        "apply",
        "--server-side",
        "-k",
        str(ROOT / source),
    )
    assert applied.returncode == 0, applied.stderr
    assert _applied(applied.stdout) == _expected("kaito-system")
    shown = await asyncio.to_thread(
        _run, "kubectl", "--kubeconfig", str(cluster.kubeconfig), "-n", "kaito-system", "get", "deployment",
        "kaito-controller", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.serviceAccountName}",
    )  # fmt: skip
    assert shown.stdout == "2 kaito-controller"


async def test_kaito_manifests_output_applies_and_its_account_gets_the_role(cluster: Cluster) -> None:
    printed = await asyncio.to_thread(
        _run,
        sys.executable,
        "-m",
        "kaito.cli",
        "manifests",
        "--namespace",
        "kaito-ops",
        "--image",
        "r.io/k:1",
    )
    assert printed.returncode == 0, printed.stderr
    kubeconfig = str(cluster.kubeconfig)
    applied = await asyncio.to_thread(
        _run, "kubectl", "--kubeconfig", kubeconfig, "apply", "--server-side", "-f", "-", stdin=printed.stdout
    )
    assert applied.returncode == 0, applied.stderr
    assert _applied(applied.stdout) == _expected("kaito-ops")

    credentials = cluster.service_account_token("kaito-ops", "kaito-controller")
    async with await ctrl.Client.from_kubeconfig(str(credentials.kubeconfig)) as client:
        assert (await client.list(("kaito.sh/v1beta1", "Workspace"))).items == []
        with pytest.raises(ctrl.Forbidden):
            await client.list(("v1", "Secret"), "kaito-ops")
    authz = cluster.authorization
    assert authz is not None
    identity = service_account_identity("kaito-ops", "kaito-controller")
    for method, path, allowed in [
        ("GET", "/apis/kaito.sh/v1beta1/workspaces?watch=1", True),
        ("PATCH", "/apis/kaito.sh/v1beta1/namespaces/default/workspaces/w/status", True),
        ("DELETE", "/apis/kaito.sh/v1beta1/machines/m", True),
        ("POST", "/apis/apps/v1/namespaces/team-a/deployments", True),
        ("GET", "/api/v1/nodes", True),
        ("PATCH", "/api/v1/nodes/n", False),
        ("GET", "/api/v1/namespaces/default/secrets/s", True),
        ("GET", "/api/v1/namespaces/default/secrets", False),
        ("PUT", "/api/v1/namespaces/default/secrets/s", False),
        # an InferenceSet's replicas are Workspaces the operator creates and deletes
        ("DELETE", "/apis/kaito.sh/v1beta1/namespaces/default/workspaces/w", True),
        ("DELETE", "/apis/kaito.sh/v1beta1/namespaces/default/inferencesets/s", False),
        ("PUT", "/apis/coordination.k8s.io/v1/namespaces/kaito-ops/leases/kaito-operator", True),
        ("PUT", "/apis/coordination.k8s.io/v1/namespaces/kaito-ops/leases/another", False),
        ("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", False),
    ]:
        target, _, query = path.partition("?")
        attrs = request_attributes(method, target, {"watch": "1"} if query else {})
        assert authz.allows(identity, attrs) is allowed, (method, path)


async def test_client_side_apply_creates_then_changes_nothing(cluster: Cluster) -> None:
    kubeconfig = str(cluster.kubeconfig)
    source = str(ROOT / "manifests" / "default")
    outputs = []
    for _ in range(2):
        applied = await asyncio.to_thread(_run, "kubectl", "--kubeconfig", kubeconfig, "apply", "-k", source)
        assert applied.returncode == 0, applied.stderr
        outputs.append(applied.stdout.splitlines())
    created, again = outputs
    assert sorted(line.split()[0] for line in created if line.endswith(" created")) == _expected(
        "kaito-system"
    )
    assert all(line.endswith(" unchanged") for line in again), again
