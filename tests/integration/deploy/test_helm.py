"""The chart against kaito.sim with a real helm: `helm install` (after a server-side dry run that creates
nothing), every object there and the notes' Workspace accepted, `helm upgrade` with changed values landing,
`helm uninstall` leaving no object of the release (the CRDs kept by their resource policy, or deleted too
with crds.keep=false). The cluster enforces RBAC over TLS (this package's sim_options); helm acts as admin,
and the chart's ServiceAccount gets the ClusterRole's rights and no Secrets."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from helm_support import CHART, helm, needs_helm
from kaito import ctrl
from kaito.sim.cluster import Cluster

pytestmark = [pytest.mark.integration, needs_helm]

RELEASE, NAMESPACE = "kaito-py", "kaito-system"


async def _helm(cluster: Cluster, home: Path, *args: str) -> str:
    """helm against the cluster, off the event loop that serves it; fails with helm's output."""
    result = await asyncio.to_thread(helm, *args, "--kubeconfig", str(cluster.kubeconfig), home=home)
    assert result.returncode == 0, f"helm {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def _ref(api_version: str, kind: str, name: str) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": NAMESPACE}}


def _kind_ref(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["apiVersion"], obj["kind"]


async def _exists(client: ctrl.Client, obj: dict[str, Any]) -> bool:
    try:
        await client.get(_kind_ref(obj), obj["metadata"]["name"], obj["metadata"].get("namespace"))
    except ctrl.NotFound:
        return False
    return True


async def _eventually_gone(client: ctrl.Client, objects: list[dict[str, Any]], within: float = 20.0) -> None:
    """Wait until none of `objects` exists (and no pod of the controller: the garbage collector's work)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        left = [f"{o['kind']}/{o['metadata']['name']}" for o in objects if await _exists(client, o)]
        pods = await client.list(("v1", "Pod"), NAMESPACE, label_selector="app.kubernetes.io/name=kaito")
        left += [f"Pod/{pod['metadata']['name']}" for pod in pods.items]
        if not left:
            return
        if loop.time() > deadline:
            raise AssertionError(f"still there {within}s after helm uninstall: {left}")
        await asyncio.sleep(0.05)


async def _release_secrets(client: ctrl.Client) -> list[str]:
    found = await client.list(("v1", "Secret"), NAMESPACE, label_selector=f"owner=helm,name={RELEASE}")
    return sorted(secret["metadata"]["name"] for secret in found.items)


def _notes_workspace(output: str) -> dict[str, Any]:
    """The Workspace the chart's notes tell the user to apply (the heredoc after `kubectl apply -f -`)."""
    match = re.search(r"kubectl apply -f - <<'YAML'\n(.*?)\n\s*YAML\n", output, re.DOTALL)
    assert match, f"the notes show no Workspace to apply:\n{output}"
    workspace: dict[str, Any] = yaml.safe_load(match.group(1))
    return workspace


async def test_install_upgrade_uninstall_leaves_nothing_of_the_release(
    cluster: Cluster, tmp_path: Path
) -> None:
    chart = str(CHART)
    async with await ctrl.Client.from_kubeconfig(str(cluster.kubeconfig)) as admin:
        # --dry-run=server: helm asks the cluster (discovery, the release history) and creates nothing
        await _helm(
            cluster,
            tmp_path,
            "install",
            RELEASE,
            chart,
            "-n",
            NAMESPACE,
            "--create-namespace",
            "--dry-run=server",
        )
        assert await _release_secrets(admin) == []
        assert not await _exists(admin, _ref("apps/v1", "Deployment", "kaito-controller"))

        installed = await _helm(
            cluster, tmp_path, "install", RELEASE, chart, "-n", NAMESPACE, "--create-namespace"
        )
        assert "STATUS: deployed" in installed
        manifest = [
            doc
            for doc in yaml.safe_load_all(
                await _helm(cluster, tmp_path, "get", "manifest", RELEASE, "-n", NAMESPACE)
            )
            if doc
        ]
        kinds = sorted({doc["kind"] for doc in manifest})
        assert kinds == sorted(
            {"CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
             "RoleBinding", "ConfigMap", "Service", "Deployment"}
        )  # fmt: skip
        missing = [f"{o['kind']}/{o['metadata']['name']}" for o in manifest if not await _exists(admin, o)]
        assert missing == []
        assert await _release_secrets(admin) == [f"sh.helm.release.v1.{RELEASE}.v1"]
        # the Workspace the notes show is accepted by the CRDs just installed
        workspace = _notes_workspace(installed)
        created = await admin.create(workspace, namespace="default")
        assert created["inference"]["preset"]["name"] == "phi-3-mini-4k-instruct"
        # the chart's ServiceAccount can do the operator's work, and read no Secret
        credentials = cluster.service_account_token(NAMESPACE, "kaito-controller")
        async with await ctrl.Client.from_kubeconfig(str(credentials.kubeconfig)) as operator:
            assert len((await operator.list(("kaito.sh/v1beta1", "Workspace"))).items) == 1
            with pytest.raises(ctrl.Forbidden):
                await operator.list(("v1", "Secret"), NAMESPACE)

        before = await admin.get(("apps/v1", "Deployment"), "kaito-controller", NAMESPACE)
        await _helm(
            cluster, tmp_path, "upgrade", RELEASE, chart, "-n", NAMESPACE, "--reuse-values",
            "--set", "replicaCount=1,logLevel=debug,provisioner.aks.clusterName=my-aks",
            "--set", "metrics.service.enabled=false",
        )  # fmt: skip
        after = await admin.get(("apps/v1", "Deployment"), "kaito-controller", NAMESPACE)
        assert after["spec"]["replicas"] == 1
        assert "--log-level=debug" in after["spec"]["template"]["spec"]["containers"][0]["args"]
        config = await admin.get(("v1", "ConfigMap"), "kaito-controller-config", NAMESPACE)
        assert config["data"]["AKS_CLUSTER_NAME"] == "my-aks"
        checksum = "checksum/config"
        pod_annotations = before["spec"]["template"]["metadata"]["annotations"]
        assert after["spec"]["template"]["metadata"]["annotations"][checksum] != pod_annotations[checksum]
        service = _ref("v1", "Service", "kaito-controller-metrics")
        assert not await _exists(admin, service), "an object the upgrade no longer renders is deleted"
        assert await _release_secrets(admin) == [f"sh.helm.release.v1.{RELEASE}.v{n}" for n in (1, 2)]

        uninstalled = await _helm(cluster, tmp_path, "uninstall", RELEASE, "-n", NAMESPACE)
        crds = [o for o in manifest if o["kind"] == "CustomResourceDefinition"]
        for crd in crds:  # helm says what its resource policy kept
            assert f"[CustomResourceDefinition] {crd['metadata']['name']}" in uninstalled
        await _eventually_gone(admin, [o for o in manifest if o["kind"] != "CustomResourceDefinition"])
        assert await _release_secrets(admin) == []
        # crds.keep (the default): the CRDs stay, and so does the user's Workspace
        assert all([await _exists(admin, crd) for crd in crds])
        assert await _exists(admin, created)

        # crds.keep=false: the same release name adopts the kept CRDs, and its uninstall leaves nothing at all
        await _helm(cluster, tmp_path, "install", RELEASE, chart, "-n", NAMESPACE, "--set", "crds.keep=false")
        await _helm(cluster, tmp_path, "uninstall", RELEASE, "-n", NAMESPACE)
        await _eventually_gone(admin, manifest)
        assert await _release_secrets(admin) == []
