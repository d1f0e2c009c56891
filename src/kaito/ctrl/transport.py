"""The one I/O boundary of the client: `Transport.send(HttpRequest) -> HttpResponse`.

Everything above this seam (URL building, discovery, retries, error mapping, watch decoding) is plain
Python; everything below it talks to a socket. Two transports exist:

* `KubeTransport` takes its settings from kubernetes-asyncio's `Configuration` (a kubeconfig or the
  in-cluster service account: server, CA, client certificate, bearer tokens and exec/oidc plugins through
  its `ApiClient`) and sends requests over `kaito.ctrl.http11`'s keep-alive connections; bodies stay raw
  JSON bytes, never generated models (slow), and a watch is read line by line. Only when a proxy is
  configured (kubeconfig `proxy-url`, HTTPS_PROXY) does it go through aiohttp's client instead.
* `kaito.ctrl.testing.MockTransport(handler)` turns any function `HttpRequest -> HttpResponse` (sync or
  async) into a server, the way httpx's MockTransport does; unit tests run the client without sockets.

An `HttpResponse` always exposes `read()` for a whole body and `iter_lines()` for a streamed watch; `close()`
releases the connection (it is how the informer's inactivity watchdog ends a dead watch).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import ssl
import urllib.request
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote_plus, urlsplit

import orjson

from kaito.ctrl.errors import ConfigError, TransportError
from kaito.ctrl.http11 import ConnectionPool

if TYPE_CHECKING:  # imported when a KubeTransport is made (~0.5 s); aiohttp only to go through a proxy
    import aiohttp
    from kubernetes_asyncio.client import Configuration

__all__ = ["HttpRequest", "HttpResponse", "KubeTransport", "Transport"]


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request to the API server; `body` is JSON-able (dict/list) or None."""

    method: str
    path: str
    query: Sequence[tuple[str, str]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    timeout: float | None = None

    def param(self, name: str) -> str | None:
        """The value of query parameter `name`, or None."""
        for key, value in self.query:
            if key == name:
                return value
        return None


class HttpResponse(Protocol):
    """An HTTP answer whose body is read whole or as lines."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def read(self) -> bytes: ...

    def iter_lines(self) -> AsyncIterator[bytes]: ...

    def close(self) -> None: ...


class Transport(Protocol):
    """Sends an HttpRequest and returns its HttpResponse; raises TransportError when no answer came."""

    async def send(self, request: HttpRequest) -> HttpResponse: ...

    async def close(self) -> None: ...


def encode_query(query: Sequence[tuple[str, str]]) -> str:
    """`urlencode(query)`, with each distinct key and value quoted once per process: field managers,
    verbs, selectors and flags repeat on every request, and `urlencode` quotes character by character."""
    return "&".join(f"{_quote(key)}={_quote(value)}" for key, value in query)


@functools.lru_cache(maxsize=4096)
def _quote(text: str) -> str:
    return quote_plus(text, safe="")


_BASE_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


class _AiohttpResponse:
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    async def read(self) -> bytes:
        import aiohttp

        try:
            return await self._response.read()
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"reading the response body failed: {exc!r}") from exc
        finally:
            self._response.release()

    async def iter_lines(self) -> AsyncIterator[bytes]:
        import aiohttp

        try:
            while True:
                line = await self._response.content.readline()
                if not line:
                    return
                line = line.strip()
                if line:
                    yield line
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"the watch stream broke: {exc!r}") from exc
        finally:
            self._response.release()

    def close(self) -> None:
        self._response.close()


class KubeTransport:
    """Requests to the API server a kubernetes-asyncio `Configuration` names (auth, TLS, proxy)."""

    def __init__(self, configuration: Configuration) -> None:
        from kubernetes_asyncio.client import ApiClient

        self._api = ApiClient(configuration)  # bearer tokens, refreshed by exec/oidc plugins
        self._host = str(configuration.host or "").rstrip("/")
        parts = urlsplit(self._host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"the cluster's server must be an http(s) URL with a host, got {configuration.host!r}"
            )
        self._base_path = parts.path.rstrip("/")  # a server URL may carry a path prefix
        # The environment's proxy variables are read once here (aiohttp with trust_env=True reads them,
        # and ~/.netrc, in a thread pool on every request).
        proxy: str | None = configuration.proxy or _env_proxy_for(self._host)
        self._pool: ConnectionPool | None = None
        self._aiohttp: _AiohttpSender | None = None
        if proxy:
            self._aiohttp = _AiohttpSender(configuration, self._api, self._host, proxy)
        else:
            tls = parts.scheme == "https"
            self._pool = ConnectionPool(
                parts.hostname,
                parts.port or (443 if tls else 80),
                ssl_context=ssl_context(configuration) if tls else None,
                server_hostname=configuration.tls_server_name or None,
                limit=configuration.connection_pool_maxsize or 100,
            )

    @classmethod
    async def from_kubeconfig(cls, path: str | None = None, *, context: str | None = None) -> KubeTransport:
        return cls(await load_configuration(path, context=context))

    async def send(self, request: HttpRequest) -> HttpResponse:
        headers = {**_BASE_HEADERS, **request.headers}
        query = list(request.query)
        await self._api.update_params_for_auth(headers, query, ["BearerToken"])
        data: bytes | None = None
        if request.body is not None:
            data = request.body if isinstance(request.body, bytes) else encode_json(request.body)
        target = self._base_path + request.path
        if query:
            target += "?" + encode_query(query)
        if self._pool is None:
            assert self._aiohttp is not None
            return await self._aiohttp.send(request, target, headers, data)
        # no deadline unless asked: a watch lives as long as the server keeps it open
        deadline = asyncio.get_running_loop().time() + request.timeout if request.timeout else None
        return await self._pool.request(request.method, target, headers, data, deadline)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        if self._aiohttp is not None:
            await self._aiohttp.close()
        await self._api.close()


def encode_json(body: Any) -> bytes:
    """A request body as JSON bytes (orjson; the standard library for what orjson refuses)."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body).encode()


def ssl_context(configuration: Configuration) -> ssl.SSLContext:
    """The TLS settings a Configuration names, as kubernetes-asyncio's own REST client builds them."""
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, keyfile=configuration.key_file)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if configuration.disable_strict_ssl_verification:
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


class _AiohttpSender:
    """Requests through aiohttp's client, sharing kubernetes-asyncio's connector: the path via a proxy."""

    def __init__(self, configuration: Configuration, api: Any, host: str, proxy: str) -> None:
        import aiohttp

        rest = api.rest_client
        parts = urlsplit(host)
        self._origin = f"{parts.scheme}://{parts.netloc}"  # the target carries the path
        self._session = aiohttp.ClientSession(
            connector=rest.pool_manager.connector,
            connector_owner=False,
            trust_env=False,
            read_bufsize=2**21,  # watch events of large objects exceed aiohttp's default buffer
        )
        self._no_timeout = aiohttp.ClientTimeout()
        self._extra: dict[str, Any] = {"proxy": proxy}
        if configuration.proxy_headers:
            self._extra["proxy_headers"] = configuration.proxy_headers
        server_hostname: str | None = getattr(rest, "server_hostname", None)
        if server_hostname:
            self._extra["server_hostname"] = server_hostname

    async def send(
        self, request: HttpRequest, target: str, headers: Mapping[str, str], data: bytes | None
    ) -> HttpResponse:
        import aiohttp
        import yarl

        timeout = aiohttp.ClientTimeout(total=request.timeout) if request.timeout else self._no_timeout
        try:
            raw = await self._session.request(
                request.method,
                yarl.URL(self._origin + target, encoded=True),
                headers=headers,
                data=data,
                timeout=timeout,
                **self._extra,
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise TransportError(f"{request.method} {request.path} got no answer: {exc!r}") from exc
        return _AiohttpResponse(raw)

    async def close(self) -> None:
        await self._session.close()


async def load_configuration(path: str | None = None, *, context: str | None = None) -> Configuration:
    """Configuration from `path` (or $KUBECONFIG, ~/.kube/config), else from the in-cluster account."""
    from kubernetes_asyncio import config as kube_config
    from kubernetes_asyncio.client import Configuration

    configuration = Configuration()
    candidate, exists = _kubeconfig_candidate(path)
    if exists:
        try:
            await kube_config.load_kube_config(
                config_file=candidate, context=context, client_configuration=configuration
            )
        except Exception as exc:
            raise ConfigError(f"kubeconfig {candidate!r} could not be loaded: {exc}") from exc
        return configuration
    try:
        kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise ConfigError(
            f"no kubeconfig at {candidate!r} and no in-cluster service account ({exc}); "
            "pass a kubeconfig path or set KUBECONFIG"
        ) from exc
    return configuration


def _kubeconfig_candidate(path: str | None) -> tuple[str, bool]:
    if path is not None:
        return path, True
    candidate = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    return candidate, os.path.exists(candidate.split(os.pathsep)[0])


def _env_proxy_for(host_url: str) -> str | None:
    """The proxy the environment (HTTPS_PROXY/HTTP_PROXY, NO_PROXY) names for ``host_url``, read once."""
    parts = urlsplit(host_url)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme or "https")
