"""Garbage collection as kube-controller-manager does it: background, foreground, orphan, namespaces."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from kaito.sim.server.errors import NotFound
from kaito.sim.server.store import Store
from kaito.sim.workloads.gc import GarbageCollector


def owned(kind: str, name: str, owner: dict[str, Any], *, block: bool = False) -> dict[str, Any]:
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    if block:
        ref["blockOwnerDeletion"] = True
    body: dict[str, Any] = {"metadata": {"name": name, "ownerReferences": [ref]}}
    if kind == "Pod":
        body["spec"] = {"containers": [{"name": "c", "image": "i"}]}
    return body


def exists(store: Store, api_version: str, kind: str, name: str, namespace: str | None = "default") -> bool:
    try:
        store.get(api_version, kind, name, namespace)
    except NotFound:
        return False
    return True


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def gc(store: Store) -> Iterator[GarbageCollector]:
    collector = GarbageCollector(store)
    yield collector
    collector.close()


def test_background_deletes_dependents_after_owner(store: Store, gc: GarbageCollector) -> None:
    owner = store.create("v1", "ConfigMap", {"metadata": {"name": "owner"}})
    child = store.create("v1", "ConfigMap", owned("ConfigMap", "child", owner))
    store.create("v1", "Pod", owned("Pod", "grandchild", child))
    store.delete("v1", "ConfigMap", "owner")
    assert gc.collect_once() == 2
    assert not exists(store, "v1", "ConfigMap", "child")
    assert not exists(store, "v1", "Pod", "grandchild")


def test_dependent_with_a_remaining_owner_only_loses_the_reference(
    store: Store, gc: GarbageCollector
) -> None:
    a = store.create("v1", "ConfigMap", {"metadata": {"name": "a"}})
    b = store.create("v1", "ConfigMap", {"metadata": {"name": "b"}})
    body = owned("ConfigMap", "child", a)
    body["metadata"]["ownerReferences"].append(owned("ConfigMap", "x", b)["metadata"]["ownerReferences"][0])
    store.create("v1", "ConfigMap", body)
    store.delete("v1", "ConfigMap", "a")
    gc.collect_once()
    refs = store.get("v1", "ConfigMap", "child")["metadata"]["ownerReferences"]
    assert [r["name"] for r in refs] == ["b"]


def test_foreground_waits_for_blocking_dependents(store: Store, gc: GarbageCollector) -> None:
    owner = store.create("v1", "ConfigMap", {"metadata": {"name": "owner"}})
    child = owned("ConfigMap", "child", owner, block=True)
    child["metadata"]["finalizers"] = ["example.com/hold"]
    store.create("v1", "ConfigMap", child)
    store.delete("v1", "ConfigMap", "owner", propagation="Foreground")
    gc.collect_once()
    held = store.get("v1", "ConfigMap", "owner")
    assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert store.get("v1", "ConfigMap", "child")["metadata"]["deletionTimestamp"]
    store.patch(
        "v1", "ConfigMap", "child", {"metadata": {"finalizers": None}}, "application/merge-patch+json"
    )
    gc.process()
    assert not exists(store, "v1", "ConfigMap", "owner")


def test_orphan_removes_references_and_keeps_dependents(store: Store, gc: GarbageCollector) -> None:
    owner = store.create("v1", "ConfigMap", {"metadata": {"name": "owner"}})
    store.create("v1", "ConfigMap", owned("ConfigMap", "child", owner))
    store.delete("v1", "ConfigMap", "owner", propagation="Orphan")
    gc.process()
    assert not exists(store, "v1", "ConfigMap", "owner")
    assert "ownerReferences" not in store.get("v1", "ConfigMap", "child")["metadata"]


def test_dependent_of_a_missing_owner_is_collected(store: Store, gc: GarbageCollector) -> None:
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ghost", "uid": "no-such-uid"}}
    store.create("v1", "ConfigMap", owned("ConfigMap", "orphaned", ghost))
    gc.process()
    assert not exists(store, "v1", "ConfigMap", "orphaned")


def test_namespace_deletion_empties_then_removes_it(store: Store, gc: GarbageCollector) -> None:
    store.create("v1", "Namespace", {"metadata": {"name": "team"}})
    store.create("v1", "ConfigMap", {"metadata": {"name": "c"}}, namespace="team")
    store.create(
        "v1", "ConfigMap", {"metadata": {"name": "held", "finalizers": ["x.io/y"]}}, namespace="team"
    )
    store.delete("v1", "Namespace", "team")
    gc.process()
    assert not exists(store, "v1", "ConfigMap", "c", "team")
    assert store.get("v1", "Namespace", "team")["status"]["phase"] == "Terminating"
    store.patch(
        "v1", "ConfigMap", "held", {"metadata": {"finalizers": None}}, "application/merge-patch+json", "team"
    )
    gc.process()
    assert not exists(store, "v1", "Namespace", "team", None)


async def test_run_loop_reacts_to_changes_without_polling(store: Store) -> None:
    collector = GarbageCollector(store)
    task = asyncio.create_task(collector.run())
    try:
        owner = store.create("v1", "ConfigMap", {"metadata": {"name": "owner"}})
        store.create("v1", "ConfigMap", owned("ConfigMap", "child", owner))
        watch = store.watch("v1", "ConfigMap", resource_version=str(store.resource_version))
        store.delete("v1", "ConfigMap", "owner")
        seen = []
        async for event in watch:
            seen.append((event.type, event.object["metadata"]["name"]))
            if ("DELETED", "child") in seen:
                break
        assert seen == [("DELETED", "owner"), ("DELETED", "child")]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
