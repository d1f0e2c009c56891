"""CachedClient without sockets: which reads the cache answers, which go to the server, and writes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from kaito.ctrl.cached_client import CachedClient
from kaito.ctrl.client import GVK, Client
from kaito.ctrl.errors import NotFound
from kaito.ctrl.frozen import FrozenDict
from kaito.ctrl.informer import SharedInformerFactory

CM = GVK("v1", "ConfigMap")


class ConfigMap(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    api_version: str = Field("v1", alias="apiVersion")
    kind: str = "ConfigMap"
    metadata: dict[str, Any]
    data: dict[str, str] = {}


def cm(name: str, namespace: str = "default", **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": name}}


def cached(client: Client, *objects: dict[str, Any], namespace: str | None = None) -> CachedClient:
    informers = SharedInformerFactory(client)
    informers.informer_for(CM, namespace=namespace).replace(list(objects), "7")  # as a first list would
    return CachedClient(client, informers)


async def test_reads_of_a_synced_kind_come_from_the_cache(client: Client, fake_api: Any) -> None:
    reader = cached(client, cm("a", app="web"), cm("b", app="db"), cm("c", "other", app="web"))
    before = len(fake_api.transport.requests)
    got = await reader.get(CM, "a", "default")
    typed = await reader.get(ConfigMap, "a", "default")
    web = await reader.list(CM, label_selector="app=web")
    in_default = await reader.list(ConfigMap, "default", label_selector={"app": "db"})
    with pytest.raises(NotFound, match="ConfigMap 'zzz' not found in namespace 'default'"):
        await reader.get(CM, "zzz")
    sent = [r for r in fake_api.transport.requests[before:] if r.path != "/api/v1"]  # beyond discovery
    assert sent == []
    assert isinstance(got, FrozenDict) and got["data"] == {"k": "a"}
    assert isinstance(typed, ConfigMap) and typed.data == {"k": "a"}
    assert sorted(o["metadata"]["name"] for o in web.items) == ["a", "c"]
    assert [o.metadata["name"] for o in in_default.items] == ["b"]


async def test_a_namespaced_cache_serves_only_its_namespace(client: Client, fake_api: Any) -> None:
    fake_api.put("configmaps", cm("x", "elsewhere"))
    reader = cached(client, cm("a"), namespace="default")
    assert (await reader.get(CM, "a", "default"))["data"] == {"k": "a"}
    assert (await reader.get(CM, "x", "elsewhere"))["data"] == {"k": "x"}  # from the server
    assert fake_api.count("GET", path_part="/namespaces/elsewhere/configmaps/x") == 1


async def test_unwatched_kinds_and_uncacheable_reads_go_to_the_server(client: Client, fake_api: Any) -> None:
    fake_api.put("configmaps", cm("a"))
    reader = CachedClient(client, SharedInformerFactory(client))
    assert (await reader.get(CM, "a"))["data"] == {"k": "a"}
    synced = cached(client, cm("a"))
    await synced.list(CM, "default", limit=10)
    assert fake_api.count("GET", path_part="/configmaps") == 2


async def test_writes_go_to_the_server(client: Client, fake_api: Any) -> None:
    reader = cached(client)
    await reader.create(cm("new"))
    await reader.patch(CM, "new", {"data": {"k": "v"}}, namespace="default")
    await reader.delete(CM, "new", "default")
    methods = [r.method for r in fake_api.transport.requests if r.path != "/api/v1"]
    assert methods == ["POST", "PATCH", "DELETE"]


def owned_cm(name: str, owner: str, namespace: str = "default") -> dict[str, Any]:
    obj = cm(name, namespace)
    obj["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "X", "name": "o", "uid": owner}]
    return obj


async def test_list_owned_reads_the_owner_index_of_the_cache(client: Client, fake_api: Any) -> None:
    reader = cached(client, owned_cm("a", "u1"), owned_cm("b", "u2"), owned_cm("c", "u1", "other"), cm("d"))
    before = len(fake_api.transport.requests)
    mine = await reader.list_owned(CM, "u1", "default")
    everywhere = await reader.list_owned(ConfigMap, "u1")
    assert [o["metadata"]["name"] for o in mine] == ["a"]
    assert [o.metadata["name"] for o in everywhere] == ["a", "c"]
    assert await reader.list_owned(CM, "nobody") == []
    assert [r for r in fake_api.transport.requests[before:] if r.path != "/api/v1"] == []
    with pytest.raises(ValueError, match="owner_uid is empty"):
        await reader.list_owned(CM, "")


async def test_list_owned_of_an_unwatched_kind_lists_the_server_and_filters(
    client: Client, fake_api: Any
) -> None:
    for obj in (owned_cm("a", "u1"), owned_cm("b", "u2"), cm("c")):
        fake_api.put("configmaps", obj)
    reader = CachedClient(client, SharedInformerFactory(client))
    assert [o["metadata"]["name"] for o in await reader.list_owned(CM, "u1", "default")] == ["a"]
    assert fake_api.count("GET", path_part="/configmaps") == 1


async def test_a_selector_of_several_labels_is_answered_whichever_is_narrowest(client: Client) -> None:
    everyone = [cm(f"w{i}", app="web", tier="front" if i == 3 else "back") for i in range(6)]
    reader = cached(client, *everyone)
    for selector in ("app=web,tier=front", "tier=front,app=web", {"app": "web", "tier": "front"}):
        found = await reader.list(CM, "default", label_selector=selector)
        assert [o["metadata"]["name"] for o in found.items] == ["w3"]
    assert len((await reader.list(CM, label_selector="app=web,tier=back")).items) == 5
