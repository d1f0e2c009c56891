"""Informers over real HTTP against kaito.sim: convergence, resume without relist, relist on 410."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from kaito.ctrl.client import GVK, Client
from kaito.ctrl.informer import HandlerFuncs, SharedInformer
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

CM = GVK("v1", "ConfigMap")


class Seen:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def handler(self) -> HandlerFuncs:
        return HandlerFuncs(
            add=lambda o, initial: self.events.append(("add", o["metadata"]["name"])),
            update=lambda old, new: self.events.append(("update", new["metadata"]["name"])),
            delete=lambda o: self.events.append(("delete", o["metadata"]["name"])),
        )

    def names(self, kind: str) -> list[str]:
        return [name for k, name in self.events if k == kind]


@pytest_asyncio.fixture
async def informer(client: Client) -> AsyncIterator[SharedInformer]:
    inf = SharedInformer(client, CM, namespace="default", page_size=2)
    yield inf
    await inf.stop()


async def test_cache_converges_after_create_update_delete(
    client: Client, informer: SharedInformer, make_configmap: Any, eventually: Any
) -> None:
    for name in "abc":
        await client.create(make_configmap(name))
    seen = Seen()
    informer.add_event_handler(seen.handler())
    informer.start()
    await informer.wait_for_sync()
    assert sorted(seen.names("add")) == ["a", "b", "c"]
    await client.create(make_configmap("d"))
    await client.patch(CM, "a", {"data": {"k": "v"}})
    await client.delete(CM, "b")
    await eventually(lambda: sorted(informer.store.list_keys()) == ["default/a", "default/c", "default/d"])
    await eventually(lambda: (informer.store.get("default/a") or {}).get("data") == {"k": "v"})
    await eventually(lambda: seen.names("delete") == ["b"])


async def test_dropped_watch_resumes_without_relisting(
    cluster: Cluster, client: Client, informer: SharedInformer, make_configmap: Any, eventually: Any
) -> None:
    seen = Seen()
    informer.add_event_handler(seen.handler())
    informer.start()
    await informer.wait_for_sync()
    await client.create(make_configmap("before"))
    await eventually(lambda: "before" in seen.names("add"))
    assert cluster.faults.drop_watches() >= 1
    await client.create(make_configmap("during"))
    await eventually(lambda: "during" in seen.names("add"))
    await eventually(lambda: informer.reflector.watch_count >= 2)
    assert informer.reflector.list_count == 1
    assert seen.names("delete") == []


async def test_forced_410_relists_without_phantom_deletes(
    cluster: Cluster, client: Client, informer: SharedInformer, make_configmap: Any, eventually: Any
) -> None:
    for name in "abc":
        await client.create(make_configmap(name))
    seen = Seen()
    informer.add_event_handler(seen.handler())
    informer.start()
    await informer.wait_for_sync()
    await client.create(make_configmap("marker"))  # seen only once the watch is open
    await eventually(lambda: "marker" in seen.names("add"))
    cluster.faults.delay(1.0, count=1, verb="watch")  # the re-watch arrives after the compaction below
    assert cluster.faults.drop_watches() >= 1
    await client.delete(CM, "b")
    await client.create(make_configmap("d"))
    cluster.faults.compact()
    await eventually(lambda: informer.reflector.list_count == 2)
    await eventually(lambda: "d" in seen.names("add") and "b" in seen.names("delete"))
    assert seen.names("delete") == ["b"], "only the object really deleted is reported deleted"
    assert sorted(informer.store.list_keys()) == ["default/a", "default/c", "default/d", "default/marker"]
