"""The ``proxy`` subresources of Services and Pods: the API server forwards HTTP to a workload, as kube does.

``/api/v1/namespaces/{ns}/services/{[scheme:]name[:port]}/proxy/{path}`` picks a ready pod behind the
Service and forwards the request there; ``/api/v1/namespaces/{ns}/pods/{[scheme:]name[:port]}/proxy/{path}``
forwards to one pod. So ``kubectl get --raw`` and any HTTP client reach a workload through the API server,
without a route into the pod network.

How a target is chosen (kube-apiserver's ``service.ResourceLocation`` / ``pod.ResourceLocation``):

- the name part is ``name``, ``name:port`` or ``scheme:name:port`` (scheme ``http`` (default) or ``https``);
- a Service port matches by name or by number, and an empty port means the Service's first port; the
  endpoint port is that port's ``targetPort`` (a number, or a container port name looked up in each pod);
- the endpoints are the pods the Service's selector matches that are Ready, not terminating, and have an
  IP; one is picked at random per request. None: ``503 no endpoints available for service "name"``, as
  kube answers;
- a pod port is a number or a container port name; an empty port means the pod's first container port.

Forwarding: method, the path after ``/proxy``, the query string, headers (minus hop-by-hop ones,
``Authorization`` and ``Host``) and the body go to ``scheme://podIP:port``; the response comes back as it
arrives — status, headers, and the body chunk by chunk (so Server-Sent Events stream). The body is not
decompressed on the way. A pod that refuses the connection is ``503 error trying to reach service: ...``.

The pure parts (:func:`parse_proxy_path`, :func:`service_endpoints`, :func:`pod_target`) decide; the
:class:`ServiceProxy` shell does the HTTP with one ``aiohttp`` session, closed with the API server's app.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from kaito.sim.server.errors import ApiError, BadRequest
from kaito.sim.server.selectors import LabelSelector
from kaito.sim.server.store import Store

__all__ = [
    "ProxyPath",
    "ProxyTarget",
    "ServiceProxy",
    "ServiceUnavailable",
    "parse_proxy_path",
    "pod_target",
    "service_endpoints",
]

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_DROP_REQUEST = _HOP_BY_HOP | {"host", "authorization", "content-length"}
_DROP_RESPONSE = _HOP_BY_HOP | {"content-length"}


class ServiceUnavailable(ApiError):
    """503: no endpoint to forward to, or the endpoint could not be reached."""

    code = 503
    reason = "ServiceUnavailable"


@dataclass(frozen=True)
class ProxyPath:
    """A proxy URL taken apart: ``/api/v1/namespaces/{namespace}/{plural}/{scheme:name:port}/proxy{rest}``."""

    namespace: str
    plural: str  # "services" or "pods"
    name: str
    port: str  # "" when not given
    scheme: str  # "http" or "https"
    rest: str  # the path forwarded, starting with "/" ("/" when empty)


@dataclass(frozen=True)
class ProxyTarget:
    """Where one request goes."""

    scheme: str
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def parse_proxy_path(path: str) -> ProxyPath | None:
    """Take apart a services/pods proxy path; None when ``path`` is not one (routed elsewhere then)."""
    prefix = "/api/v1/namespaces/"
    if not path.startswith(prefix):
        return None
    parts = path[len(prefix) :].split("/", 4)
    if len(parts) < 4 or parts[1] not in ("services", "pods") or parts[3] != "proxy":
        return None
    namespace, plural, name_part = parts[0], parts[1], parts[2]
    if not namespace or not name_part:
        return None
    rest = "/" + parts[4] if len(parts) > 4 else "/"
    pieces = name_part.split(":")
    if len(pieces) == 1:
        scheme, name, port = "", pieces[0], ""
    elif len(pieces) == 2:
        scheme, name, port = "", pieces[0], pieces[1]
    elif len(pieces) == 3:
        scheme, name, port = pieces
    else:
        raise BadRequest(
            f'invalid {plural[:-1]} request "{name_part}": expected name, name:port or scheme:name:port'
        )
    if scheme not in ("", "http", "https"):
        raise BadRequest(f'invalid scheme "{scheme}" in "{name_part}": expected http or https')
    return ProxyPath(namespace, plural, name, port, scheme or "http", rest)


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if not status.get("podIP"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def _container_port(pod: Mapping[str, Any], name: str) -> int | None:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == name and port.get("containerPort"):
                return int(port["containerPort"])
    return None


def service_endpoints(
    service: Mapping[str, Any], pods: Sequence[Mapping[str, Any]], port: str
) -> list[tuple[str, int]]:
    """(podIP, port) of every ready pod behind ``service`` for the Service port named or numbered ``port``."""
    spec = service.get("spec") or {}
    selector = spec.get("selector") or {}
    if not selector:
        return []  # a Service without a selector has hand-made Endpoints; the sim keeps none
    chosen = None
    for service_port in spec.get("ports") or []:
        if port in ("", str(service_port.get("name", "")), str(service_port.get("port", ""))):
            chosen = service_port
            break
    if chosen is None:
        return []
    target = chosen.get("targetPort", chosen.get("port"))
    match = LabelSelector.from_dict({"matchLabels": selector})
    endpoints: list[tuple[str, int]] = []
    for pod in pods:
        if not match.matches_object(pod) or not _pod_ready(pod):
            continue
        number = int(target) if isinstance(target, int) or str(target).isdigit() else None
        if number is None:
            number = _container_port(pod, str(target))
        if number is not None:
            endpoints.append((str(pod["status"]["podIP"]), number))
    return endpoints


def pod_target(pod: Mapping[str, Any], port: str, scheme: str) -> ProxyTarget:
    """Where a pod proxy request goes: the pod's IP and the port asked for (or its first container port)."""
    name = (pod.get("metadata") or {}).get("name", "")
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        raise ServiceUnavailable(f'pod "{name}" has no IP address yet; its status.podIP is empty')
    number: int | None
    if port == "":
        number = None
        for container in (pod.get("spec") or {}).get("containers") or []:
            for container_port in container.get("ports") or []:
                number = number or int(container_port.get("containerPort") or 0) or None
        if number is None:
            raise BadRequest(f'pod "{name}" declares no container port; name one as {name}:PORT')
    elif port.isdigit():
        number = int(port)
    else:
        number = _container_port(pod, port)
        if number is None:
            raise BadRequest(f'pod "{name}" has no container port named "{port}"')
    return ProxyTarget(scheme, str(ip), number)


class ServiceProxy:
    """Serves the proxy subresources for an API server over ``store``; :meth:`attach` ties it to the app."""

    def __init__(self, store: Store, *, choose: Any = random.choice) -> None:
        self._store = store
        self._choose = choose
        self._session: aiohttp.ClientSession | None = None

    def attach(self, app: web.Application) -> None:
        """Close the forwarding session when ``app`` cleans up."""
        app.on_cleanup.append(self._close)

    async def _close(self, _app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def resolve(self, target: ProxyPath) -> ProxyTarget:
        """The pod address a request for ``target`` goes to (ApiError when there is none)."""
        if target.plural == "pods":
            pod = self._store.get("v1", "Pod", target.name, target.namespace)
            return pod_target(pod, target.port, target.scheme)
        service = self._store.get("v1", "Service", target.name, target.namespace)
        pods, _ = self._store.list("v1", "Pod", target.namespace, copy=False)
        endpoints = service_endpoints(service, pods, target.port)
        if not endpoints:
            raise ServiceUnavailable(f'no endpoints available for service "{target.name}"')
        host, port = self._choose(endpoints)
        return ProxyTarget(target.scheme, host, port)

    async def handle(self, request: web.Request, target: ProxyPath) -> web.StreamResponse:
        """Forward ``request`` to the pod ``target`` resolves to and stream the answer back."""
        where = self.resolve(target)
        url = where.base_url + target.rest
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST}
        body = await request.read() if request.can_read_body else None
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
            self._session = aiohttp.ClientSession(auto_decompress=False, timeout=timeout)
        try:
            upstream = await self._session.request(
                request.method,
                url,
                params=request.rel_url.query,
                headers=headers,
                data=body,
                allow_redirects=False,
                ssl=False,
            )
        except aiohttp.ClientConnectionError as err:
            raise ServiceUnavailable(
                f"error trying to reach service: dial tcp {where.host}:{where.port}: {err}"
            ) from None
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in _DROP_RESPONSE:
                    response.headers.add(key, value)
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
        return response
