"""Where a webhook's clientConfig sends the API server, and kube's words when it cannot be resolved."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kaito.sim.server.store import Store
from kaito.sim.server.tls import TlsBundle
from kaito.sim.server.webhook_calls import (
    ResolvedWebhook,
    WebhookCallError,
    call_webhook,
    resolve_client_config,
)

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


@asynccontextmanager
async def _hook_server(tls: TlsBundle, peers: list[Any]) -> AsyncIterator[int]:
    """An HTTPS webhook answering {"ok": true}, noting the client address of each request; its port."""

    async def answer(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context())
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def _target(port: int, tls: TlsBundle) -> ResolvedWebhook:
    url = f"https://127.0.0.1:{port}/hook?timeout=5s"
    return ResolvedWebhook(url, url, "hook.default.svc", tls.ca_pem())


async def test_calls_verified_by_one_ca_bundle_share_a_connection_and_a_new_bundle_counts_at_once(
    tmp_path: Path,
) -> None:
    first = TlsBundle.generate(tmp_path / "first", hosts=("hook.default.svc",))
    second = TlsBundle.generate(tmp_path / "second", hosts=("hook.default.svc",))
    peers: list[Any] = []
    async with aiohttp.ClientSession() as session:
        async with _hook_server(first, peers) as port:
            for _ in range(3):
                assert await call_webhook(session, _target(port, first), {}, 5) == {"ok": True}
        assert len(peers) == 3 and len(set(peers)) == 1, peers  # one TLS connection, kept alive
        async with _hook_server(second, peers) as port:  # the webhook's certificate was rotated
            with pytest.raises(WebhookCallError, match="x509"):
                await call_webhook(session, _target(port, first), {}, 5)
            assert await call_webhook(session, _target(port, second), {}, 5) == {"ok": True}
