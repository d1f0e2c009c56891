"""kaito.sim's RBAC over HTTP: ServiceAccount tokens from real clients (kubernetes-asyncio via kaito.ctrl, and
kubectl), 403 Status bodies as kube-apiserver words them, 401 for unknown tokens, the admin token allowed."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kaito import ctrl
from kaito.api import all_crds
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

RBAC = "rbac.authorization.k8s.io/v1"
WORKSPACE = ("kaito.sh/v1beta1", "Workspace")
SA = "system:serviceaccount:kaito-system:kaito-controller"


async def _setup(cluster: Cluster, rules: list[dict[str, Any]]) -> tuple[ctrl.Client, Path]:
    """As admin: CRDs, a ServiceAccount bound to a ClusterRole of `rules`, a Workspace `default/x`.

    Returns the admin client and the ServiceAccount's kubeconfig."""
    admin = await ctrl.Client.from_kubeconfig(str(cluster.kubeconfig), field_manager="kubectl")
    for crd in all_crds():
        await admin.apply(crd)
    await admin.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kaito-system"}})
    await admin.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "kaito-controller", "namespace": "kaito-system"},
        }
    )
    await admin.apply(
        {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": "test"}, "rules": rules}
    )
    await admin.apply(
        {
            "apiVersion": RBAC,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "test"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "test"},
            "subjects": [{"kind": "ServiceAccount", "name": "kaito-controller", "namespace": "kaito-system"}],
        }
    )
    await admin.apply(
        {"apiVersion": "kaito.sh/v1beta1", "kind": "Workspace",
         "metadata": {"name": "x", "namespace": "default"},
         "resource": {"instanceType": "Standard_NC6s_v3", "labelSelector": {"matchLabels": {"a": "b"}}},
         "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}}}
    )  # fmt: skip
    return admin, cluster.service_account_token("kaito-system", "kaito-controller").kubeconfig


async def test_a_service_account_gets_exactly_its_roles_rights_with_kube_apiservers_403(
    cluster: Cluster,
) -> None:
    admin, kubeconfig = await _setup(
        cluster, [{"apiGroups": ["kaito.sh"], "resources": ["workspaces"], "verbs": ["get", "list", "patch"]}]
    )
    async with admin, await ctrl.Client.from_kubeconfig(str(kubeconfig), field_manager="kaito") as sa:
        assert [w["metadata"]["name"] for w in (await sa.list(WORKSPACE)).items] == ["x"]
        await sa.patch(WORKSPACE, "x", {"metadata": {"labels": {"seen": "yes"}}}, namespace="default")
        with pytest.raises(ctrl.Forbidden) as refused:
            await sa.patch(
                WORKSPACE, "x", {"status": {"state": "Ready"}}, namespace="default", subresource="status"
            )
        assert refused.value.message == (
            f'workspaces.kaito.sh "x" is forbidden: User "{SA}" cannot patch resource "workspaces/status" '
            'in API group "kaito.sh" in the namespace "default"'
        )
        assert refused.value.details == {"name": "x", "group": "kaito.sh", "kind": "workspaces"}
        with pytest.raises(
            ctrl.Forbidden, match='cannot list resource "secrets" in API group "" at the cluster'
        ):
            await sa.list(("v1", "Secret"))

        # RBAC applied later takes effect on the next request, as in kube
        await admin.apply(
            {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": {"name": "test"},
             "rules": [{"apiGroups": ["kaito.sh"], "resources": ["workspaces", "workspaces/status"],
                        "verbs": ["get", "list", "patch"]}]}
        )  # fmt: skip
        await sa.patch(
            WORKSPACE, "x", {"status": {"state": "Ready"}}, namespace="default", subresource="status"
        )
        # the admin kubeconfig keeps full access
        assert (await admin.list(("v1", "Secret"))).items == []
    assert cluster.authorization is not None
    assert [(d.attributes.verb, d.attributes.resource) for d in cluster.authorization.denials] == [
        ("patch", "workspaces"),
        ("list", "secrets"),
    ]


def _forge(cluster: Cluster, target: Path) -> Path:
    assert cluster.admin_token is not None
    text = Path(cluster.kubeconfig).read_text()
    target.write_text(text.replace(cluster.admin_token, "not-a-token-of-this-cluster"))
    return target


async def test_an_unknown_token_is_unauthorized(cluster: Cluster, tmp_path: Path) -> None:
    forged = _forge(cluster, tmp_path / "kubeconfig")
    async with await ctrl.Client.from_kubeconfig(str(forged)) as client:
        with pytest.raises(ctrl.Unauthorized):
            await client.list(("v1", "ConfigMap"), "default")


async def test_kubectl_with_the_service_account_kubeconfig_is_held_to_its_role(cluster: Cluster) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    admin, kubeconfig = await _setup(
        cluster, [{"apiGroups": ["kaito.sh"], "resources": ["workspaces"], "verbs": ["get", "list"]}]
    )
    await admin.close()

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True
        )

    listed = await asyncio.to_thread(kubectl, "get", "workspaces", "-n", "default", "-o", "name")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "workspace.kaito.sh/x"
    deleted = await asyncio.to_thread(kubectl, "delete", "workspace", "x", "-n", "default")
    assert deleted.returncode == 1
    assert deleted.stderr.strip() == (
        f'Error from server (Forbidden): workspaces.kaito.sh "x" is forbidden: User "{SA}" cannot delete '
        'resource "workspaces" in API group "kaito.sh" in the namespace "default"'
    )


async def test_kubectl_create_token_mints_a_token_that_rbac_holds_and_that_expires(cluster: Cluster) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    admin, _ = await _setup(
        cluster, [{"apiGroups": ["kaito.sh"], "resources": ["workspaces"], "verbs": ["get", "list"]}]
    )
    await admin.close()
    kubeconfig = str(cluster.kubeconfig)

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], capture_output=True, text=True)

    created = await asyncio.to_thread(
        kubectl, "create", "token", "kaito-controller", "-n", "kaito-system", "--duration", "20m"
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    listed = await asyncio.to_thread(kubectl, "--token", token, "get", "workspaces", "-A", "-o", "name")
    assert listed.stdout.strip() == "workspace.kaito.sh/x", listed.stderr
    secrets = await asyncio.to_thread(kubectl, "--token", token, "get", "secrets", "-A")
    assert f'User "{SA}" cannot list resource "secrets"' in secrets.stderr

    short = await asyncio.to_thread(
        kubectl, "create", "token", "kaito-controller", "-n", "kaito-system", "--duration", "5m"
    )
    assert short.returncode == 1
    assert "spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes" in (
        short.stderr
    )

    authz = cluster.authorization
    assert authz is not None
    later = authz.clock() + timedelta(minutes=20)
    authz.clock = lambda: later
    expired = await asyncio.to_thread(kubectl, "--token", token, "get", "workspaces", "-A")
    assert expired.returncode == 1
    assert "Unauthorized" in expired.stderr
