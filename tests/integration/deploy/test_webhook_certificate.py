"""The webhook's certificate under the manifests' RBAC: the operator mints it into its Secret, patches the
CA into the ValidatingWebhookConfiguration and the CRD, and rotates it; the API server follows each
rotation."""

from __future__ import annotations

import asyncio
import base64
import datetime
from typing import Any

import pytest

from integration import rbac_support as rbac
from kaito import ctrl
from kaito.controllers.webhook_certs import certificate_from_secret
from kaito.controllers.webhook_manifests import route_webhook_service
from kaito.controllers.webhook_server import WebhookOptions, WebhookServer
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

SECRET = ("v1", "Secret")
VWC = ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")
CRD = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
SEED = {
    "apiVersion": "kaito.sh/v1alpha1",
    "kind": "Workspace",
    "metadata": {"name": "ws", "namespace": "default"},
    "resource": {"instanceType": "Standard_NC6s_v3", "labelSelector": {"matchLabels": {"apps": "phi-3"}}},
    "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}},
}


async def _bundles(admin: ctrl.Client) -> tuple[str, str]:
    vwc = await admin.get(VWC, "validation.workspace.kaito.sh")
    crd = await admin.get(CRD, "workspaces.kaito.sh")
    return (
        str(vwc["webhooks"][0]["clientConfig"].get("caBundle", "")),
        str(crd["spec"]["conversion"]["webhook"]["clientConfig"].get("caBundle", "")),
    )


async def test_the_operator_mints_patches_and_rotates_its_certificate(cluster: Cluster) -> None:
    async with (
        await ctrl.Client.from_kubeconfig(str(cluster.kubeconfig), field_manager="kubectl") as admin,
        rbac.operator_client(cluster, admin) as client,
    ):
        # valid for an hour but rotated when under two hours are left: every resync rotates
        options = WebhookOptions(
            host="127.0.0.1",
            port=0,
            resync_s=0.3,
            valid_for=datetime.timedelta(hours=1),
            rotate_before=datetime.timedelta(hours=2),
        )
        server = WebhookServer(client, options)
        stop = asyncio.Event()
        task = asyncio.create_task(server.run(stop))
        try:
            await asyncio.wait_for(server.ready.wait(), 15)
            await route_webhook_service(admin, server.port)
            secret = await admin.get(SECRET, "kaito-webhook-cert", "kaito-system")
            first = certificate_from_secret(secret["data"])
            assert first is not None
            seen: set[str] = set()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 15
            while len(seen) < 3:  # the first CA and two rotations, each patched into both places
                vwc_bundle, crd_bundle = await _bundles(admin)
                if vwc_bundle and vwc_bundle == crd_bundle:
                    seen.add(base64.b64decode(vwc_bundle).decode().split("-----END CERTIFICATE-----")[0])
                assert loop.time() < deadline, f"saw {len(seen)} CA bundle(s) in 15 s"
                await asyncio.sleep(0.05)
            assert first.ca_pem.decode().split("-----END CERTIFICATE-----")[0] in seen
            # the API server keeps reaching the webhook across rotations (conversion and admission)
            created: dict[str, Any] = await admin.apply(SEED)
            assert created["apiVersion"] == "kaito.sh/v1alpha1"
        finally:
            stop.set()
            await task
    rbac.assert_no_denials(cluster)
