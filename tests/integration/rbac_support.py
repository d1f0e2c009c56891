"""The operator under the manifests' RBAC on kaito.sim: the steps the integration fixtures share.

A platform team installs the operator as admin and runs it as the ServiceAccount kaito-system/kaito-controller
of manifests/rbac. The fixtures that run the operator (tests/integration/workspace's `operator`,
tests/integration/deploy's `rbac_operator`) do the same on a ``Cluster(**RBAC_SIM_OPTIONS)``:

1. :func:`operator_client` — as admin, install the CRDs (the ServiceAccount has no rights on CRDs), the
   webhook's Service and ValidatingWebhookConfiguration (manifests/webhook) and apply manifests/rbac
   (:func:`install_rbac`: the files its kustomization lists, which kustomize passes through unchanged); then
   mint a token for the ServiceAccount and open the operator's client with a kubeconfig that sends it.
   Test-side actions keep using the admin client. The operator runs with :data:`WEBHOOK_OPTIONS` and, once
   started, :func:`serve_webhooks` waits for its certificate and caBundles and routes the webhook Service to
   it, so every Workspace write of the suite passes the admission webhook (and v1alpha1 its conversion).
2. the test runs; a wait that sees a refusal stops at once (:func:`denials_report` in its message);
3. after the operator has stopped, :func:`assert_no_denials`: any request of the operator the cluster
   refused fails the test with kube-apiserver's own 403 sentence, so a missing permission cannot pass.

TLS, authentication and RBAC are ``Cluster()``'s defaults; RBAC_SIM_OPTIONS names them anyway, so a fixture
says what it relies on. :func:`require_enforcement` refuses a cluster started without them (e.g. with
``insecure=True``), so a test that overrides `sim_options` that way fails with that reason instead of
silently running the operator with the admin's rights.

Conftests import it as ``integration.rbac_support`` (pytest's ``pythonpath = ["tests"]``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import yaml

from kaito import ctrl
from kaito.controllers.operator import FIELD_MANAGER, Operator, install_crds
from kaito.controllers.webhook_manifests import install_webhooks, route_webhook_service
from kaito.controllers.webhook_server import WebhookOptions
from kaito.sim.cluster import Cluster
from kaito.sim.server.authz import Authorization, ServiceAccountCredentials, forbidden

__all__ = [
    "MANIFESTS",
    "RBAC_SIM_OPTIONS",
    "SERVICE_ACCOUNT",
    "WEBHOOK_OPTIONS",
    "assert_no_denials",
    "denials_report",
    "install_rbac",
    "kustomization_documents",
    "operator_client",
    "require_enforcement",
    "serve_webhooks",
]

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
SERVICE_ACCOUNT = ("kaito-system", "kaito-controller")
RBAC_SIM_OPTIONS: dict[str, Any] = {"authorization": True, "tls": True}
WEBHOOK_OPTIONS = WebhookOptions(host="127.0.0.1", port=0, resync_s=5.0)


def kustomization_documents(directory: Path) -> list[dict[str, Any]]:
    """The objects of a kustomization that only lists plain resource files (manifests/rbac)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    extra = set(kustomization) - {"apiVersion", "kind", "resources"}
    assert not extra, f"{directory} uses {sorted(extra)}; render it with kubectl kustomize instead"
    docs: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        docs.extend(d for d in yaml.safe_load_all((directory / resource).read_text()) if d)
    return docs


def require_enforcement(cluster: Cluster) -> Authorization:
    """The cluster's authorizer; fails when the cluster was not started with RBAC_SIM_OPTIONS."""
    if cluster.authorization is None or not cluster.tls:
        raise AssertionError(
            f"the operator runs as {'/'.join(SERVICE_ACCOUNT)} under RBAC: sim_options must include "
            f"{RBAC_SIM_OPTIONS} (got authorization={cluster.authorization is not None}, tls={cluster.tls})"
        )
    return cluster.authorization


async def install_rbac(cluster: Cluster, admin: ctrl.Client) -> ServiceAccountCredentials:
    """Apply manifests/rbac as admin (its namespace first); the ServiceAccount's token and kubeconfig."""
    require_enforcement(cluster)
    await admin.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SERVICE_ACCOUNT[0]}})
    for doc in kustomization_documents(MANIFESTS / "rbac"):
        await admin.apply(doc)
    return cluster.service_account_token(*SERVICE_ACCOUNT)


@contextlib.asynccontextmanager
async def operator_client(cluster: Cluster, admin: ctrl.Client) -> AsyncIterator[ctrl.Client]:
    """As admin: the CRDs and manifests/rbac; then the operator's client, sending the account's token."""
    await install_crds(admin)
    await install_webhooks(admin)
    credentials = await install_rbac(cluster, admin)
    async with await ctrl.Client.from_kubeconfig(
        str(credentials.kubeconfig), field_manager=FIELD_MANAGER
    ) as client:
        yield client


async def serve_webhooks(operator: Operator, admin: ctrl.Client, within: float = 15.0) -> None:
    """Wait until the started operator's webhook serves a certificate whose CA is patched in, then route the
    webhook Service to it (a restarted operator listens on a new port)."""
    webhook = operator.webhook
    assert webhook is not None, "the operator was built without webhook=WEBHOOK_OPTIONS"
    await asyncio.wait_for(webhook.ready.wait(), within)
    await route_webhook_service(admin, webhook.port)


def denials_report(cluster: Cluster) -> list[str]:
    """Each request the cluster refused, in kube-apiserver's 403 wording (empty when none was)."""
    authorization = require_enforcement(cluster)
    return [forbidden(d.identity, d.attributes).message for d in authorization.denials]


def assert_no_denials(cluster: Cluster) -> None:
    """Fail, listing kube's 403 message for each, when any request was refused under manifests/rbac."""
    refused = denials_report(cluster)
    assert refused == [], "the operator was refused under manifests/rbac:\n" + "\n".join(refused)
