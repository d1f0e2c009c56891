"""Where a webhook's clientConfig sends the API server, and kube's words when it cannot be resolved."""

from __future__ import annotations

import base64

import pytest

from kaito.sim.server.store import Store
from kaito.sim.server.webhook_calls import WebhookCallError, resolve_client_config

SERVICE = {"service": {"namespace": "kaito-system", "name": "hook", "path": "/validate", "port": 443}}


def _store() -> Store:
    store = Store()
    store.create("v1", "Namespace", {"metadata": {"name": "kaito-system"}})
    return store


def test_a_service_resolves_to_its_endpoints_with_the_service_name_for_tls() -> None:
    store = _store()
    store.create(
        "v1",
        "Service",
        {
            "metadata": {"name": "hook", "namespace": "kaito-system"},
            "spec": {"ports": [{"port": 443, "targetPort": 9443}]},
        },
    )
    store.create(
        "v1",
        "Endpoints",
        {
            "metadata": {"name": "hook", "namespace": "kaito-system"},
            "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 40000}]}],
        },
    )
    ca = base64.b64encode(b"PEM").decode()
    target = resolve_client_config(store, dict(SERVICE, caBundle=ca), 10)
    assert target.display_url == "https://hook.kaito-system.svc:443/validate?timeout=10s"
    assert target.dial_url == "https://127.0.0.1:40000/validate?timeout=10s"
    assert (target.server_hostname, target.ca_pem) == ("hook.kaito-system.svc", b"PEM")


def test_a_missing_service_or_endpoint_is_said_as_kube_says_it() -> None:
    store = _store()
    with pytest.raises(WebhookCallError, match='service "hook" not found'):
        resolve_client_config(store, SERVICE, 10)
    store.create(
        "v1",
        "Service",
        {"metadata": {"name": "hook", "namespace": "kaito-system"}, "spec": {"ports": [{"port": 443}]}},
    )
    with pytest.raises(WebhookCallError, match='no endpoints available for service "hook"'):
        resolve_client_config(store, SERVICE, 10)


def test_a_url_is_called_as_given() -> None:
    target = resolve_client_config(_store(), {"url": "https://example.com:8443/hook"}, 5)
    assert target.dial_url == "https://example.com:8443/hook?timeout=5s"
    assert (target.server_hostname, target.ca_pem) == ("example.com", None)
    with pytest.raises(WebhookCallError, match="caBundle is not base64"):
        resolve_client_config(_store(), {"url": "https://example.com/", "caBundle": "%%%"}, 5)
