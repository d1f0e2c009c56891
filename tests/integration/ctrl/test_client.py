"""The client over real HTTP against kaito.sim: verbs, distinct errors, retries of injected faults."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kaito.ctrl.client import GVK, Client, PatchType, RetryPolicy
from kaito.ctrl.errors import AlreadyExists, Conflict, NotFound, ServerError, UnknownKind
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

CM = GVK("v1", "ConfigMap")


async def test_verbs_and_errors(client: Client, make_configmap: Any) -> None:
    created = await client.create(make_configmap("a", k="v"))
    with pytest.raises(AlreadyExists):
        await client.create(make_configmap("a"))
    updated = await client.update({**created, "data": {"k": "w"}})
    with pytest.raises(Conflict):
        await client.update({**created, "data": {"k": "stale"}})
    patched = await client.patch(
        CM, "a", [{"op": "add", "path": "/data/j", "value": "1"}], patch_type=PatchType.JSON
    )
    assert patched["data"] == {"k": "w", "j": "1"}
    assert int(patched["metadata"]["resourceVersion"]) > int(updated["metadata"]["resourceVersion"])
    applied = await client.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"x": "y"}}
    )
    assert applied["data"] == {"x": "y"}
    page = await client.list(CM, "default", limit=1)
    assert len(page.items) == 1 and page.continue_token
    rest = await client.list(CM, "default", continue_token=page.continue_token)
    assert {i["metadata"]["name"] for i in page.items + rest.items} >= {"a", "b"}
    await client.delete(CM, "a")
    with pytest.raises(NotFound):
        await client.get(CM, "a")


async def test_injected_5xx_and_429_are_retried_but_not_forever(
    cluster: Cluster, make_configmap: Any
) -> None:
    retry = RetryPolicy(attempts=3, initial=0.05, max_wait=0.2)
    async with await Client.from_kubeconfig(str(cluster.kubeconfig), retry=retry) as client:
        await retried(cluster, client, make_configmap)


async def retried(cluster: Cluster, client: Client, make_configmap: Any) -> None:
    await client.create(make_configmap("a"))
    cluster.faults.fail(2, code=503, verb="get", resource="configmaps")
    assert (await client.get(CM, "a"))["metadata"]["name"] == "a"
    cluster.faults.fail(1, code=429, verb="get", resource="configmaps", retry_after=1)
    assert (await client.get(CM, "a"))["metadata"]["name"] == "a"
    cluster.faults.fail(3, code=500, verb="get", resource="configmaps")
    with pytest.raises(ServerError):
        await client.get(CM, "a")
    cluster.faults.clear()


@pytest.mark.parametrize("sim_options", [{"workloads": False, "arm": False}])
async def test_tls_kubeconfig_with_the_cluster_ca(
    cluster: Cluster, client: Client, make_configmap: Any
) -> None:
    assert cluster.url.startswith("https://")
    await client.create(make_configmap("secure"))
    assert (await client.get(CM, "secure"))["metadata"]["name"] == "secure"


WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


async def test_a_crd_registered_after_start_is_found_by_discovery(client: Client) -> None:
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 3},
    }
    with pytest.raises(UnknownKind):
        await client.create(widget)
    await client.create(WIDGET_CRD)
    for _ in range(100):  # the CRD becomes served shortly after it is created
        try:
            created = await client.create(widget)
            break
        except UnknownKind:
            await asyncio.sleep(0.05)
    else:
        raise AssertionError("the Widget kind never became known to discovery")
    assert created["spec"] == {"size": 3}
    assert (await client.get(GVK("example.com/v1", "Widget"), "w"))["metadata"]["namespace"] == "default"
