"""The webhook's cluster objects, as code: the Service and the ValidatingWebhookConfiguration of
manifests/webhook (a test keeps the files equal to these), and `install_webhooks` for an operator that runs
outside the cluster.

`kaito up` and the integration suite run the operator in-process, beside kaito.sim, not in a pod: there is no
pod for the Service to select. So `route_webhook_service(client, port)` writes the Service's Endpoints by
hand, pointing at 127.0.0.1:port, which is what kube-apiserver (and kaito.sim) dial for the Service. In a
cluster the endpoints controller owns the Endpoints and `port` is left out.
"""

from __future__ import annotations

from typing import Any

from kaito import ctrl
from kaito.api import (
    OPERATOR_NAMESPACE,
    WEBHOOK_CONFIGURATION,
    WEBHOOK_SERVICE_NAME,
    WEBHOOK_VALIDATE_PATH,
)

__all__ = [
    "WEBHOOK_TARGET_PORT",
    "install_webhooks",
    "route_webhook_service",
    "webhook_endpoints",
    "webhook_objects",
]

WEBHOOK_TARGET_PORT = 9443
_LABELS = {"app.kubernetes.io/name": "kaito", "app.kubernetes.io/component": "webhook"}


def webhook_objects(namespace: str = OPERATOR_NAMESPACE) -> list[dict[str, Any]]:
    """The Service and ValidatingWebhookConfiguration of manifests/webhook."""
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": WEBHOOK_SERVICE_NAME, "namespace": namespace, "labels": dict(_LABELS)},
        "spec": {
            "selector": {"app.kubernetes.io/name": "kaito"},
            "ports": [{"name": "webhook", "port": 443, "targetPort": "webhook", "protocol": "TCP"}],
        },
    }
    configuration = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": WEBHOOK_CONFIGURATION, "labels": dict(_LABELS)},
        "webhooks": [
            {
                "name": WEBHOOK_CONFIGURATION,
                "admissionReviewVersions": ["v1"],
                "clientConfig": {
                    "service": {
                        "name": WEBHOOK_SERVICE_NAME,
                        "namespace": namespace,
                        "path": WEBHOOK_VALIDATE_PATH,
                        "port": 443,
                    }
                },
                "rules": [
                    {
                        "apiGroups": ["kaito.sh"],
                        "apiVersions": ["v1beta1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["workspaces"],
                        "scope": "Namespaced",
                    }
                ],
                "matchPolicy": "Equivalent",
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "timeoutSeconds": 10,
            }
        ],
    }
    return [service, configuration]


def webhook_endpoints(
    port: int, namespace: str = OPERATOR_NAMESPACE, ip: str = "127.0.0.1"
) -> dict[str, Any]:
    """Endpoints sending the webhook Service to an operator listening at `ip:port` outside any pod."""
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": WEBHOOK_SERVICE_NAME, "namespace": namespace, "labels": dict(_LABELS)},
        "subsets": [
            {"addresses": [{"ip": ip}], "ports": [{"name": "webhook", "port": port, "protocol": "TCP"}]}
        ],
    }


async def install_webhooks(client: ctrl.Client, *, namespace: str = OPERATOR_NAMESPACE) -> None:
    """Apply the webhook Service and configuration (before the operator starts: a later apply by another
    field manager would take the caBundle away until the operator's next resync)."""
    await client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    for obj in webhook_objects(namespace):
        await client.apply(obj, force=True)


async def route_webhook_service(
    client: ctrl.Client, port: int, *, namespace: str = OPERATOR_NAMESPACE
) -> None:
    """Point the webhook Service at an operator listening on 127.0.0.1:`port` (Endpoints written by hand)."""
    await client.apply(webhook_endpoints(port, namespace), force=True)
