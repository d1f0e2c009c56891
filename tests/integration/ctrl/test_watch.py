"""Watches that survive a quiet resource on a busy server, over real HTTP against kaito.sim.

A watch asks for bookmarks and a server-side `timeoutSeconds`; the client waits longer than that before it
gives up; a watch that ends resumes from the newest version it heard of (bookmarks included), so writes
elsewhere on the server followed by a compaction do not force a relist.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from kaito.ctrl.client import GVK, Client, WatchEvent
from kaito.ctrl.informer import SharedInformer
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

CM = GVK("v1", "ConfigMap")


def store_of(cluster: Cluster) -> Any:
    assert cluster.apiserver is not None
    return cluster.apiserver.store


@pytest_asyncio.fixture
async def busy_elsewhere(client: Client) -> AsyncIterator[str]:
    """A namespace where writes happen that a watch of "default" never sees."""
    await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "elsewhere"}})
    yield "elsewhere"


async def write_elsewhere(client: Client, namespace: str, count: int) -> int:
    """`count` writes in `namespace`; the resourceVersion of the last one."""
    version = 0
    for i in range(count):
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"x{i}", "namespace": namespace}}
        created = await client.create(obj)
        version = int(created["metadata"]["resourceVersion"])
    return version


async def test_a_watch_with_timeout_seconds_ends_cleanly_with_a_bookmark_at_the_newest_version(
    cluster: Cluster, client: Client, busy_elsewhere: str
) -> None:
    store_of(cluster).bookmark_interval = 3600.0  # no idle bookmarks: only the closing one can arrive
    listed = await client.list(CM, namespace="default")
    stream = await client.watch(CM, "default", resource_version=listed.resource_version, timeout_seconds=2)
    newest = await write_elsewhere(client, busy_elsewhere, 3)
    events: list[WatchEvent] = []
    async with asyncio.timeout(20):  # the stream must end by itself, without a client-side error
        async for event in stream:
            events.append(event)
    assert [e.type for e in events] == ["BOOKMARK"]
    assert int(events[0].object["metadata"]["resourceVersion"]) >= newest


async def test_a_watch_without_bookmarks_asked_gets_none_at_its_end(cluster: Cluster, client: Client) -> None:
    store_of(cluster).bookmark_interval = 3600.0
    listed = await client.list(CM, namespace="default")
    stream = await client.watch(
        CM, "default", resource_version=listed.resource_version, timeout_seconds=1, allow_bookmarks=False
    )
    async with asyncio.timeout(20):
        events = [event async for event in stream]
    assert events == []


async def test_bookmarks_let_a_quiet_watch_resume_after_compaction_without_relisting(
    cluster: Cluster, client: Client, busy_elsewhere: str, eventually: Any
) -> None:
    informer = SharedInformer(client, CM, namespace="default")
    try:
        informer.start()
        await informer.wait_for_sync()
        newest = await write_elsewhere(client, busy_elsewhere, 5)
        # the sim bookmarks an idle watch every second: the reflector learns the newest version
        await eventually(lambda: int(informer.reflector.last_resource_version or 0) >= newest)
        cluster.faults.compact()  # the history before now is gone
        assert cluster.faults.drop_watches() >= 1
        await eventually(lambda: informer.reflector.watch_count >= 2)
        await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after"}})
        await eventually(lambda: informer.store.get("default/after") is not None)
        assert informer.reflector.list_count == 1, "resumed from the bookmarked version, no 410, no relist"
    finally:
        await informer.stop()


async def test_without_a_bookmark_the_same_compaction_forces_a_relist(
    cluster: Cluster, client: Client, busy_elsewhere: str, eventually: Any
) -> None:
    """The control for the test above: the relist it avoids does happen when no bookmark came."""
    store_of(cluster).bookmark_interval = 3600.0
    informer = SharedInformer(client, CM, namespace="default")
    try:
        informer.start()
        await informer.wait_for_sync()
        await client.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "seen"}})
        await eventually(lambda: informer.store.get("default/seen") is not None)
        await write_elsewhere(client, busy_elsewhere, 5)
        cluster.faults.compact()
        assert cluster.faults.drop_watches() >= 1
        await eventually(lambda: informer.reflector.list_count == 2)
    finally:
        await informer.stop()
