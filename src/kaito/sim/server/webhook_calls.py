"""How the API server reaches a webhook: a ``clientConfig`` resolved to an address and called over HTTPS.

Shared by admission (:mod:`kaito.sim.server.admission`) and CRD conversion
(:mod:`kaito.sim.server.conversion`), as
kube-apiserver shares its webhook client between them:

- ``clientConfig.url``: called as given; the TLS server name is the URL's host.
- ``clientConfig.service`` (``namespace``, ``name``, ``path``, ``port``, 443 by default): kube dials the
  Service; the sim has no Service network, so it dials what the Service's Endpoints (same name) list for
  that port (an operator running outside the cluster, as ``kaito up`` runs it, is listed there at
  127.0.0.1). The TLS server name is ``<name>.<namespace>.svc``, as kube-apiserver checks it.
- The server certificate is verified against ``caBundle`` (base64 PEM); without one, the system roots.
- ``timeout`` bounds the whole call; ``?timeout=<n>s`` is added to the URL, as kube does.
- One TLS client context per ``caBundle`` is kept (building one loads the system roots, milliseconds of
  CPU), which also lets the session reuse its connection to the webhook instead of a handshake per call.

Every failure is a :class:`WebhookCallError` whose message is kube's wording after
``failed to call webhook: ``: ``Post "https://svc.ns.svc:443/path?timeout=10s": dial tcp 127.0.0.1:P:
connect: connection refused``, ``... context deadline exceeded``, ``... x509: certificate signed by
unknown authority``, ``service "name" not found``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from kaito.sim.server.store import Store

__all__ = ["ResolvedWebhook", "WebhookCallError", "call_webhook", "resolve_client_config"]


class WebhookCallError(Exception):
    """The webhook could not be called or answered nonsense; the message is kube's text for it."""


@dataclass(frozen=True)
class ResolvedWebhook:
    """Where to send the request (``dial_url``), what kube would show (``display_url``) and how to verify."""

    display_url: str
    dial_url: str
    server_hostname: str
    ca_pem: bytes | None


def _port_of(service: Mapping[str, Any], port: int) -> tuple[int | str, str]:
    """(target port, port name) of the Service port ``port``; the port itself when the Service lists none."""
    for entry in (service.get("spec") or {}).get("ports") or []:
        if entry.get("port") == port:
            return entry.get("targetPort", port), str(entry.get("name") or "")
    return port, ""


def _endpoint(store: Store, namespace: str, name: str, service: Mapping[str, Any], port: int) -> str | None:
    """``ip:port`` from the Endpoints of the Service (None when it lists no address for that port)."""
    target, port_name = _port_of(service, port)
    endpoints = store.peek(("", "endpoints"), namespace, name)
    for subset in (endpoints or {}).get("subsets") or []:
        addresses = [a.get("ip") for a in subset.get("addresses") or [] if a.get("ip")]
        if not addresses:
            continue
        for entry in subset.get("ports") or []:
            if (
                (port_name and entry.get("name") == port_name)
                or entry.get("port") == target
                or (len(subset.get("ports") or []) == 1)
            ):
                return f"{addresses[0]}:{entry.get('port')}"
    return None


def _ca(config: Mapping[str, Any]) -> bytes | None:
    bundle = config.get("caBundle")
    if not bundle:
        return None
    try:
        return base64.b64decode(str(bundle), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookCallError("caBundle is not base64-encoded PEM") from None


def resolve_client_config(store: Store, config: Mapping[str, Any], timeout_s: float) -> ResolvedWebhook:
    """Where ``config`` sends a request; raises WebhookCallError as kube words an unresolvable one."""
    suffix = f"?timeout={int(timeout_s)}s"
    if config.get("url"):
        url = str(config["url"])
        host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
        return ResolvedWebhook(url + suffix, url + suffix, host, _ca(config))
    service = config.get("service") or {}
    namespace, name = str(service.get("namespace") or ""), str(service.get("name") or "")
    port = int(service.get("port") or 443)
    path = str(service.get("path") or "/")
    display = f"https://{name}.{namespace}.svc:{port}{path}{suffix}"
    svc = store.peek(("", "services"), namespace, name)
    if svc is None:
        raise WebhookCallError(f'service "{name}" not found')
    address = _endpoint(store, namespace, name, svc, port)
    if address is None:
        raise WebhookCallError(f'Post "{display}": no endpoints available for service "{name}"')
    return ResolvedWebhook(
        display, f"https://{address}{path}{suffix}", f"{name}.{namespace}.svc", _ca(config)
    )


@functools.lru_cache(maxsize=16)
def _tls_context(ca_pem: bytes | None) -> ssl.SSLContext:
    """The client context verifying against ``ca_pem`` (the system roots when None); shared, never changed."""
    if ca_pem is None:
        return ssl.create_default_context()
    return ssl.create_default_context(cadata=ca_pem.decode(errors="replace"))


async def call_webhook(
    session: aiohttp.ClientSession, target: ResolvedWebhook, body: Mapping[str, Any], timeout_s: float
) -> dict[str, Any]:
    """POST ``body`` as JSON and return the JSON answer; WebhookCallError with kube's text otherwise."""
    context = _tls_context(target.ca_pem)
    where = f'Post "{target.display_url}"'
    dial = target.dial_url.split("://", 1)[-1].split("/", 1)[0]
    try:
        async with asyncio.timeout(timeout_s):
            async with session.post(
                target.dial_url,
                data=json.dumps(body),
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                ssl=context,
                server_hostname=target.server_hostname,
            ) as response:
                text = await response.text()
                if response.status != 200:
                    raise WebhookCallError(
                        f"{where}: the server responded with status {response.status}: {text}"
                    )
    except TimeoutError:
        raise WebhookCallError(f"{where}: context deadline exceeded") from None
    except aiohttp.ClientConnectorCertificateError as error:
        raise WebhookCallError(
            f"{where}: tls: failed to verify certificate: x509: {error.certificate_error}"
        ) from None
    except aiohttp.ClientConnectorError as error:
        refused = isinstance(error.os_error, ConnectionRefusedError)
        why = "connect: connection refused" if refused else f"connect: {error.os_error.strerror or error}"
        raise WebhookCallError(f"{where}: dial tcp {dial}: {why}") from None
    except aiohttp.ClientError as error:
        raise WebhookCallError(f"{where}: {error}") from None
    try:
        answer = json.loads(text)
    except json.JSONDecodeError:
        raise WebhookCallError(f"{where}: the response is not JSON: {text[:200]}") from None
    if not isinstance(answer, dict):
        raise WebhookCallError(f"{where}: the response is not a JSON object")
    return answer
