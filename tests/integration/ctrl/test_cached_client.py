"""The manager's cached client over real HTTP against kaito.sim: cached reads send no request at all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ConfigDict, Field

from kaito.ctrl.builder import ControllerBuilder
from kaito.ctrl.client import GVK, Client
from kaito.ctrl.errors import NotFound
from kaito.ctrl.manager import Manager
from kaito.ctrl.reconcile import Request, Result
from kaito.ctrl.transport import HttpRequest, HttpResponse, KubeTransport
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

CM = GVK("v1", "ConfigMap")
SECRET = GVK("v1", "Secret")


class CountingTransport:
    """The real transport, counting what crosses the seam to the API server."""

    def __init__(self, inner: KubeTransport) -> None:
        self.inner = inner
        self.sent: list[HttpRequest] = []

    async def send(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(request)
        return await self.inner.send(request)

    async def close(self) -> None:
        await self.inner.close()


@pytest_asyncio.fixture
async def counted(cluster: Cluster) -> AsyncIterator[tuple[Client, CountingTransport]]:
    transport = CountingTransport(await KubeTransport.from_kubeconfig(str(cluster.kubeconfig)))
    async with Client(transport) as client:
        yield client, transport


async def test_reads_of_a_watched_kind_are_served_from_the_cache_without_a_request(
    counted: tuple[Client, CountingTransport], make_configmap: Any, eventually: Any
) -> None:
    client, transport = counted
    cm = make_configmap("colors", color="blue")
    cm["metadata"]["labels"] = {"app": "web", "tier": "front"}
    await client.create(cm)
    await client.create(make_configmap("other", color="red"))
    manager = Manager(client, registry=CollectorRegistry(), probe_port=None)
    manager.cached_client.cache(CM)
    run = asyncio.create_task(manager.run())
    try:
        await eventually(lambda: manager.caches_synced)
        reader = manager.cached_client
        before = len(transport.sent)
        got = await reader.get(CM, "colors", "default")
        by_label = await reader.list(CM, "default", label_selector="app=web,tier in (front,back)")
        everything = await reader.list(CM)
        with pytest.raises(NotFound):
            await reader.get(CM, "missing", "default")
        assert transport.sent[before:] == [], "a read of a watched kind went to the API server"
        assert got["data"] == {"color": "blue"}
        assert [o["metadata"]["name"] for o in by_label.items] == ["colors"]
        assert {"colors", "other"} <= {o["metadata"]["name"] for o in everything.items}

        # a write goes to the server, and the cache sees it when the watch delivers it
        await reader.patch(CM, "colors", {"data": {"color": "green"}}, namespace="default")
        assert len(transport.sent) == before + 1

        async def green() -> bool:
            return (await reader.get(CM, "colors", "default"))["data"] == {"color": "green"}

        for _ in range(250):
            if await green():
                break
            await asyncio.sleep(0.02)
        assert await green()

        # an unwatched kind is read from the API server
        sent = len(transport.sent)
        with pytest.raises(NotFound):
            await reader.get(SECRET, "absent", "default")
        assert len(transport.sent) == sent + 1
    finally:
        manager.stop()
        await asyncio.wait_for(run, 10)


class ConfigMap(BaseModel):
    """A user's own typed model of a ConfigMap (only the fields it cares about)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    api_version: str = Field("v1", alias="apiVersion")
    kind: str = "ConfigMap"
    metadata: dict[str, Any]
    data: dict[str, int] = {}


async def test_a_typed_controller_gets_parsed_objects_and_none_when_gone_and_skips_bad_ones(
    client: Client, make_configmap: Any, eventually: Any
) -> None:
    seen: list[tuple[str, dict[str, int] | None]] = []

    class Counter:
        async def reconcile(self, request: Request, obj: ConfigMap | None) -> Result:
            seen.append((request.name, obj.data if obj is not None else None))
            return Result()

    manager = Manager(client, registry=CollectorRegistry(), probe_port=None)
    ControllerBuilder(manager).for_(ConfigMap, namespace="default").complete(Counter())
    await client.create(make_configmap("good", n="1"))
    await client.create(make_configmap("bad", n="not a number"))
    run = asyncio.create_task(manager.run())
    try:
        await eventually(lambda: ("good", {"n": 1}) in seen)
        await client.delete(CM, "good", "default")
        await eventually(lambda: ("good", None) in seen)

        async def warned() -> bool:
            events = await client.list(GVK("v1", "Event"), "default")
            return any(
                e.get("reason") == "InvalidObject" and e["involvedObject"]["name"] == "bad"
                for e in events.items
            )

        for _ in range(250):
            if await warned():
                break
            await asyncio.sleep(0.02)
        assert await warned(), "the object that does not parse was not reported with an Event"
        assert all(name != "bad" for name, _ in seen)
        assert manager.is_leader  # the controller is still running
    finally:
        manager.stop()
        await asyncio.wait_for(run, 10)
