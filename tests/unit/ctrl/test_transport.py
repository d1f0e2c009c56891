"""Transports: the mock seam, and KubeTransport over real HTTP loaded from a kubeconfig."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiohttp import web

from kaito.ctrl.client import GVK, Client, RetryPolicy
from kaito.ctrl.errors import ConfigError, NotFound, TransportError
from kaito.ctrl.testing import MockResponse, MockStream, MockTransport
from kaito.ctrl.transport import HttpRequest, encode_query, load_configuration


async def test_mock_transport_accepts_sync_and_async_handlers() -> None:
    async def async_handler(request: HttpRequest) -> MockResponse:
        return MockResponse(json={"path": request.path, "q": request.param("x")})

    for handler in (async_handler, lambda r: MockResponse(json={"path": r.path, "q": r.param("x")})):
        transport = MockTransport(handler)
        response = await transport.send(HttpRequest("GET", "/p", (("x", "1"),)))
        assert json.loads(await response.read()) == {"path": "/p", "q": "1"}
        assert transport.requests[0].path == "/p"


async def test_mock_stream_ends_when_the_response_is_closed() -> None:
    stream = MockStream()
    response = MockResponse(stream=stream)
    stream.send("ADDED", {"metadata": {"name": "a"}})
    lines = response.iter_lines()
    assert json.loads(await anext(lines))["type"] == "ADDED"
    response.close()
    with pytest.raises(StopAsyncIteration):
        await anext(lines)


@pytest.fixture
async def kube_server(tmp_path: Path) -> AsyncIterator[Path]:
    released = asyncio.Event()

    async def discovery(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer secret-token"
        return web.json_response(
            {
                "kind": "APIResourceList",
                "resources": [{"name": "configmaps", "kind": "ConfigMap", "namespaced": True}],
            }
        )

    async def get_cm(request: web.Request) -> web.Response:
        if request.match_info["name"] == "slow":
            await released.wait()  # no answer until the server shuts down
        if request.match_info["name"] != "a":
            return web.json_response(
                {"kind": "Status", "code": 404, "reason": "NotFound", "message": "nope"}, status=404
            )
        return web.json_response({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})

    async def watch(request: web.Request) -> web.StreamResponse:
        assert request.query["allowWatchBookmarks"] == "true"
        response = web.StreamResponse()
        await response.prepare(request)
        for i in range(3):
            line = {"type": "ADDED", "object": {"metadata": {"name": f"o{i}", "resourceVersion": str(i)}}}
            await response.write(json.dumps(line).encode() + b"\n")
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    async def prefixed_discovery(request: web.Request) -> web.Response:
        resources = [{"name": "prefixedmaps", "kind": "ConfigMap", "namespaced": True}]
        return web.json_response({"kind": "APIResourceList", "resources": resources})

    app = web.Application()
    app.router.add_get("/api/v1", discovery)
    app.router.add_get("/prefix/api/v1", prefixed_discovery)
    app.router.add_get("/api/v1/namespaces/{ns}/configmaps/{name}", get_cm)
    app.router.add_get("/api/v1/namespaces/{ns}/configmaps", watch)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "secret-token"}}],
                "contexts": [
                    {"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "default"}}
                ],
                "current-context": "ctx",
            }
        )
    )
    yield kubeconfig
    released.set()
    await runner.cleanup()


async def test_kube_transport_over_http_from_a_kubeconfig(kube_server: Path) -> None:
    async with await Client.from_kubeconfig(str(kube_server)) as client:
        got = await client.get(GVK("v1", "ConfigMap"), "a", "default")
        assert got["metadata"]["name"] == "a"
        with pytest.raises(NotFound, match="nope"):
            await client.get(GVK("v1", "ConfigMap"), "b", "default")
        stream = await client.watch(
            GVK("v1", "ConfigMap"), "default", resource_version="0", timeout_seconds=5
        )
        names = [event.object["metadata"]["name"] async for event in stream]
        assert names == ["o0", "o1", "o2"]


async def test_an_unanswered_request_runs_out_of_time(kube_server: Path) -> None:
    client = await Client.from_kubeconfig(
        str(kube_server), request_timeout=0.3, retry=RetryPolicy(attempts=1)
    )
    async with client:
        await client.get(GVK("v1", "ConfigMap"), "a", "default")
        with pytest.raises(
            TransportError, match=r"GET /api/v1/namespaces/default/configmaps/slow .*deadline"
        ):
            await client.get(GVK("v1", "ConfigMap"), "slow", "default")


async def test_a_server_url_with_a_path_prefix_keeps_it(kube_server: Path, tmp_path: Path) -> None:
    config = json.loads(await asyncio.to_thread(kube_server.read_text))
    server = config["clusters"][0]["cluster"]["server"]
    config["clusters"][0]["cluster"]["server"] = server + "/prefix/"
    prefixed = tmp_path / "prefixed"
    await asyncio.to_thread(prefixed.write_text, json.dumps(config))
    async with await Client.from_kubeconfig(str(prefixed)) as client:
        assert (await client.resource_for(GVK("v1", "ConfigMap"))).plural == "prefixedmaps"


async def test_with_a_proxy_requests_go_through_it(kube_server: Path, tmp_path: Path) -> None:
    config = json.loads(await asyncio.to_thread(kube_server.read_text))
    cluster = config["clusters"][0]["cluster"]
    cluster["proxy-url"], cluster["server"] = cluster["server"], "http://kube.invalid:8080"
    proxied = tmp_path / "proxied"
    await asyncio.to_thread(proxied.write_text, json.dumps(config))
    async with await Client.from_kubeconfig(str(proxied)) as client:
        got = await client.get(GVK("v1", "ConfigMap"), "a", "default")  # kube.invalid: only the proxy answers
        assert got["metadata"]["name"] == "a"
        stream = await client.watch(GVK("v1", "ConfigMap"), "default", resource_version="0")
        assert [event.object["metadata"]["name"] async for event in stream] == ["o0", "o1", "o2"]


async def test_missing_configuration_is_a_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="could not be loaded"):
        await load_configuration(str(tmp_path / "absent"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError, match=r"no kubeconfig .* and no in-cluster service account"):
        await load_configuration()


@pytest.mark.parametrize(
    "query",
    [
        [],
        [("watch", "1"), ("resourceVersion", "12345"), ("allowWatchBookmarks", "true")],
        [("labelSelector", "app in (a, b),tier!=web"), ("fieldSelector", "metadata.name=x")],
        [("fieldManager", "kaito ctrl/ü"), ("continue", "eyJydiI6MTIzfQ=="), ("a&b", "c=d+e")],
    ],
)
def test_query_encoding_is_urlencode(query: list[tuple[str, str]]) -> None:
    assert encode_query(query) == urlencode(query)
    assert encode_query(query) == urlencode(query), "the second time (from the cache) too"
