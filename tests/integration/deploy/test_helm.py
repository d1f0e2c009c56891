"""The chart against kaito.sim with a real helm: `helm install` (after a server-side dry run that creates
nothing), every object there; the notes' Workspace refused while no replica serves the admission webhook
(failurePolicy Fail, as a user who does not wait for the Deployment sees it), then accepted once the
operator's webhook server runs as the chart's ServiceAccount (it mints its certificate and patches both
caBundles with the chart's rights alone); `helm upgrade` with changed values landing and the operator's
caBundles kept; `helm uninstall` leaving no object of the release (the CRDs kept by their resource policy, or
deleted too with crds.keep=false). The cluster enforces RBAC over TLS (this package's sim_options); helm acts
as admin, and the chart's ServiceAccount gets the ClusterRole's rights and cannot list Secrets. The
Deployment's pods do not run here (the sim has no operator image), so the webhook server runs in the test."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from helm_support import CHART, helm, needs_helm
from integration import rbac_support as rbac
from kaito import ctrl
from kaito.controllers.webhook_manifests import route_webhook_service
from kaito.controllers.webhook_server import WebhookOptions, WebhookServer
from kaito.sim.cluster import Cluster

pytestmark = [pytest.mark.integration, needs_helm]

RELEASE, NAMESPACE = "kaito-py", "kaito-system"
WORKSPACE = ("kaito.sh/v1beta1", "Workspace")
VWC = ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")
CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")


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


async def _ca_bundles(client: ctrl.Client) -> tuple[str | None, str | None]:
    """The caBundle of the admission webhook and of the Workspace CRD's conversion webhook."""
    vwc = await client.get(VWC, "validation.workspace.kaito.sh")
    crd = await client.get(CRD, "workspaces.kaito.sh")
    return (
        vwc["webhooks"][0]["clientConfig"].get("caBundle"),
        crd["spec"]["conversion"]["webhook"]["clientConfig"].get("caBundle"),
    )


@contextlib.asynccontextmanager
async def _webhook_server(cluster: Cluster, admin: ctrl.Client) -> AsyncIterator[None]:
    """The operator's webhook server as the chart's ServiceAccount (what `--webhook-port` starts in each
    replica), the webhook Service routed to it; yields once its certificate is minted and patched in."""
    credentials = cluster.service_account_token(NAMESPACE, "kaito-controller")
    async with await ctrl.Client.from_kubeconfig(str(credentials.kubeconfig)) as operator:
        server = WebhookServer(operator, WebhookOptions(host="127.0.0.1", port=0, namespace=NAMESPACE))
        stop = asyncio.Event()
        task = asyncio.create_task(server.run(stop))
        try:
            await asyncio.wait_for(server.ready.wait(), 15)
            await route_webhook_service(admin, server.port, namespace=NAMESPACE)
            yield
        finally:
            stop.set()
            await task


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
             "RoleBinding", "ConfigMap", "Service", "Deployment", "ValidatingWebhookConfiguration"}
        )  # fmt: skip
        missing = [f"{o['kind']}/{o['metadata']['name']}" for o in manifest if not await _exists(admin, o)]
        assert missing == []
        assert await _release_secrets(admin) == [f"sh.helm.release.v1.{RELEASE}.v1"]
        assert await _ca_bundles(admin) == (None, None), "the chart renders no caBundle"
        # the Workspace the notes show, applied before any replica serves the admission webhook: refused
        # (failurePolicy Fail), which is why the notes say to wait for the Deployment first
        workspace = _notes_workspace(installed)
        with pytest.raises(ctrl.ApiError) as refused:
            await admin.create(workspace, namespace="default")
        assert 'failed calling webhook "validation.workspace.kaito.sh"' in str(refused.value)
        assert 'no endpoints available for service "kaito-webhook-service"' in str(refused.value)

        denied_before = len(rbac.denials_report(cluster))
        async with _webhook_server(cluster, admin):
            # with the chart's rights alone the operator minted its certificate and patched both caBundles
            assert rbac.denials_report(cluster)[denied_before:] == []
            bundles = await _ca_bundles(admin)
            assert all(bundles)
            created = await admin.create(workspace, namespace="default")
            assert created["inference"]["preset"]["name"] == "phi-3-mini-4k-instruct"
            name = created["metadata"]["name"]
            # v1alpha1 is served through the conversion webhook the CRD names
            alpha = await admin.get(("kaito.sh/v1alpha1", "Workspace"), name, "default")
            assert alpha["apiVersion"] == "kaito.sh/v1alpha1"
            # the chart's ServiceAccount can do the operator's work, and cannot list Secrets
            credentials = cluster.service_account_token(NAMESPACE, "kaito-controller")
            async with await ctrl.Client.from_kubeconfig(str(credentials.kubeconfig)) as operator:
                assert len((await operator.list(WORKSPACE)).items) == 1
                with pytest.raises(ctrl.Forbidden):
                    await operator.list(("v1", "Secret"), NAMESPACE)

            before = await admin.get(("apps/v1", "Deployment"), "kaito-controller", NAMESPACE)
            await _helm(
                cluster, tmp_path, "upgrade", RELEASE, chart, "-n", NAMESPACE, "--reuse-values",
                "--set", "replicaCount=1,logLevel=debug,provisioner.aks.clusterName=my-aks",
                "--set", "metrics.service.enabled=false,webhook.timeoutSeconds=15",
            )  # fmt: skip
            # the upgrade changed the webhook configuration and left the operator's caBundles in place, so
            # admission keeps working: an allowed change passes, an immutable field is refused by the webhook
            vwc = await admin.get(VWC, "validation.workspace.kaito.sh")
            assert vwc["webhooks"][0]["timeoutSeconds"] == 15
            assert await _ca_bundles(admin) == bundles
            labelled = await admin.patch(
                WORKSPACE, name, {"metadata": {"labels": {"team": "ml"}}}, namespace="default"
            )
            assert labelled["metadata"]["labels"] == {"team": "ml"}
            with pytest.raises(ctrl.ApiError) as immutable:
                await admin.patch(
                    WORKSPACE, name, {"resource": {"instanceType": "Standard_NC12s_v3"}}, namespace="default"
                )
            assert 'admission webhook "validation.workspace.kaito.sh" denied the request' in str(
                immutable.value
            )
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
