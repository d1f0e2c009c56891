"""The one I/O boundary of the client: `Transport.send(HttpRequest) -> HttpResponse`.

Everything above this seam (URL building, discovery, retries, error mapping, watch decoding) is plain
Python; everything below it talks to a socket. Two transports exist:

* `KubeTransport` sends requests through kubernetes-asyncio's REST layer (its `ApiClient` supplies TLS,
  bearer tokens, client certificates and exec/oidc plugins from a kubeconfig or the in-cluster service
  account) with `_preload_content=False`, so bodies stay raw JSON bytes and are never turned into
  generated models (slow) — and so a watch can be read line by line.
* `MockTransport(handler)` turns any function `HttpRequest -> HttpResponse` (sync or async) into a
  server, the way httpx's MockTransport does; unit tests run the whole client against it without sockets.

An `HttpResponse` always exposes `read()` for a whole body and `iter_lines()` for a streamed watch; `close()`
releases the connection (it is how the informer's inactivity watchdog ends a dead watch).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import aiohttp
from kubernetes_asyncio import config as kube_config
from kubernetes_asyncio.client import ApiClient, Configuration

from kaito.ctrl.errors import ConfigError, TransportError

__all__ = [
    "HttpRequest",
    "HttpResponse",
    "KubeTransport",
    "MockResponse",
    "MockStream",
    "MockTransport",
    "Transport",
    "load_configuration",
]


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


class MockResponse:
    """An HttpResponse built in memory: `json=` a document, `body=` bytes, `stream=` watch lines."""

    def __init__(
        self,
        status: int = 200,
        *,
        json: Any = None,
        body: bytes = b"",
        stream: AsyncIterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._status = status
        self._body = body if json is None else _dumps(json)
        self._stream = stream
        self._headers = dict(headers or {})
        self.closed = False

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    async def read(self) -> bytes:
        if self._stream is None:
            return self._body
        return b"".join([chunk async for chunk in self._stream])

    async def iter_lines(self) -> AsyncIterator[bytes]:
        if self._stream is None:
            for line in self._body.splitlines():
                if self.closed:
                    return
                yield line
            return
        async for chunk in self._stream:
            if self.closed:
                return
            yield chunk

    def close(self) -> None:
        self.closed = True
        if isinstance(self._stream, MockStream):
            self._stream.end()


class MockStream:
    """A watch body fed by the test: `send(type, obj)` writes one event line, `end()` closes the stream."""

    def __init__(self) -> None:
        self._lines: asyncio.Queue[bytes | None] = asyncio.Queue()

    def send(self, event_type: str, obj: Mapping[str, Any]) -> None:
        self._lines.put_nowait(_dumps({"type": event_type, "object": obj}))

    def end(self) -> None:
        self._lines.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        line = await self._lines.get()
        if line is None:
            self._lines.put_nowait(None)
            raise StopAsyncIteration
        return line


Handler = Callable[[HttpRequest], "HttpResponse | Awaitable[HttpResponse]"]


class MockTransport:
    """Routes every request to `handler`, a plain (sync or async) function; records requests for asserts."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[HttpRequest] = []

    async def send(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        result = self._handler(request)
        if isinstance(result, Awaitable):
            result = await result
        return result

    async def close(self) -> None:
        return None


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
        try:
            return await self._response.read()
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"reading the response body failed: {exc!r}") from exc
        finally:
            self._response.release()

    async def iter_lines(self) -> AsyncIterator[bytes]:
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
    """Requests through kubernetes-asyncio's REST client (auth, TLS, proxies from its Configuration)."""

    def __init__(self, configuration: Configuration) -> None:
        self._api = ApiClient(configuration)
        self._host = str(configuration.host or "").rstrip("/")

    @classmethod
    async def from_kubeconfig(cls, path: str | None = None, *, context: str | None = None) -> KubeTransport:
        return cls(await load_configuration(path, context=context))

    async def send(self, request: HttpRequest) -> HttpResponse:
        headers = {"Accept": "application/json", **request.headers}
        query = list(request.query)
        await self._api.update_params_for_auth(headers, query, ["BearerToken"])
        try:
            raw = await self._api.rest_client.request(
                request.method,
                self._host + request.path,
                query_params=cast("dict[str, Any] | None", query or None),  # urlencode takes pairs too
                headers=headers,
                body=request.body,
                _preload_content=False,
                _request_timeout=request.timeout,
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise TransportError(f"{request.method} {request.path} got no answer: {exc!r}") from exc
        return _AiohttpResponse(raw)

    async def close(self) -> None:
        await self._api.close()


async def load_configuration(path: str | None = None, *, context: str | None = None) -> Configuration:
    """Configuration from `path` (or $KUBECONFIG, ~/.kube/config), else from the in-cluster account."""
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


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
