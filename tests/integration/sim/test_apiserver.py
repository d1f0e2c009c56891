"""The sim's API server over real HTTP, driven by the real kubernetes-asyncio client (aiohttp for wire form).

Each test gets its own cluster (the `cluster` fixture). Cross-client semantics live in test_conformance.py;
this module covers what the HTTP layer itself adds: routing, query parameters, pagination, watch streaming and
its errors, subresources, server-side tables, discovery of new CRDs, logs, fault injection, TLS, snapshots.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from integration.admin_http import admin_session
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"workloads": False, "arm": False}


async def _api_client(kubeconfig: Path) -> client.ApiClient:
    conf = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=conf)
    return client.ApiClient(conf)


@pytest_asyncio.fixture
async def api(kubeconfig: Path) -> AsyncIterator[client.ApiClient]:
    async with await _api_client(kubeconfig) as api_client:
        yield api_client


@pytest_asyncio.fixture
async def http(cluster: Cluster) -> AsyncIterator[aiohttp.ClientSession]:
    async with admin_session(cluster) as session:
        yield session


def _cm(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}


WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {
                        "name": "Ready",
                        "type": "string",
                        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                    },
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}


# -- reads and writes --


async def test_crud_with_conflict_and_all_patch_types(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    created = await v1.create_namespaced_config_map("default", _cm("a", app="x"))
    assert created.metadata.uid and created.metadata.resource_version
    stale = created.metadata.resource_version
    await v1.patch_namespaced_config_map("a", "default", {"data": {"k": "merge"}})
    cm = await v1.read_namespaced_config_map("a", "default")
    assert cm.data == {"k": "merge"}
    cm.metadata.resource_version = stale
    with pytest.raises(ApiException) as conflict:
        await v1.replace_namespaced_config_map("a", "default", cm)
    assert conflict.value.status == 409
    assert "the object has been modified" in json.loads(conflict.value.body)["message"]
    await v1.patch_namespaced_config_map(
        "a",
        "default",
        [{"op": "add", "path": "/data/j", "value": "json"}],
        _content_type="application/json-patch+json",
    )
    await v1.patch_namespaced_config_map(
        "a",
        "default",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"s": "apply"}},
        field_manager="tests",
        _content_type="application/apply-patch+yaml",
    )
    cm = await v1.read_namespaced_config_map("a", "default")
    assert cm.data == {"k": "merge", "j": "json", "s": "apply"}
    await v1.delete_namespaced_config_map("a", "default")
    with pytest.raises(ApiException) as missing:
        await v1.read_namespaced_config_map("a", "default")
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["message"] == 'configmaps "a" not found'


async def test_dry_run_and_field_validation(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    dry = await v1.create_namespaced_config_map(
        "default", _cm("dry"), dry_run="All", field_validation="Strict"
    )
    assert dry.metadata.name == "dry"
    assert (await v1.list_namespaced_config_map("default")).items == []
    with pytest.raises(ApiException) as bad:
        await v1.create_namespaced_config_map("default", _cm("x"), field_validation="Loose")
    assert bad.value.status == 400 and "fieldValidation" in json.loads(bad.value.body)["message"]


async def test_list_pages_with_limit_and_continue_and_filters_by_label(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    for i in range(5):
        await v1.create_namespaced_config_map("default", _cm(f"cm-{i}", tier="odd" if i % 2 else "even"))
    names: list[str] = []
    token = None
    versions = set()
    while True:
        page = await v1.list_namespaced_config_map("default", limit=2, _continue=token)
        names += [item.metadata.name for item in page.items]
        versions.add(page.metadata.resource_version)
        token = page.metadata._continue
        if not token:
            break
    assert names == [f"cm-{i}" for i in range(5)] and len(versions) == 1
    odd = await v1.list_namespaced_config_map("default", label_selector="tier in (odd)")
    assert [item.metadata.name for item in odd.items] == ["cm-1", "cm-3"]


async def test_delete_options(api: client.ApiClient, cluster: Cluster) -> None:
    v1 = client.CoreV1Api(api)
    cm = await v1.create_namespaced_config_map("default", _cm("keep"))
    await v1.delete_namespaced_config_map("keep", "default", dry_run="All")
    await v1.read_namespaced_config_map("keep", "default")  # still there
    wrong_uid = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="not-" + cm.metadata.uid))
    with pytest.raises(ApiException) as failed:
        await v1.delete_namespaced_config_map("keep", "default", body=wrong_uid)
    assert failed.value.status == 409 and "Precondition failed" in json.loads(failed.value.body)["message"]
    finalized = _cm("held")
    finalized["metadata"]["finalizers"] = ["example.com/hold"]
    await v1.create_namespaced_config_map("default", finalized)
    await v1.delete_namespaced_config_map("held", "default", propagation_policy="Foreground")
    held = await v1.read_namespaced_config_map("held", "default")
    assert held.metadata.deletion_timestamp is not None
    assert held.metadata.finalizers == ["example.com/hold"]  # gc already let go of foregroundDeletion
    await v1.patch_namespaced_config_map(
        "held",
        "default",
        [{"op": "remove", "path": "/metadata/finalizers/0"}],
        _content_type="application/json-patch+json",
    )
    await v1.create_namespaced_config_map("default", _cm("sweep-1", sweep="yes"))
    await v1.create_namespaced_config_map("default", _cm("sweep-2", sweep="yes"))
    await v1.delete_collection_namespaced_config_map("default", label_selector="sweep=yes")
    left = await v1.list_namespaced_config_map("default")
    assert [item.metadata.name for item in left.items] == ["keep"]


async def test_delete_with_a_protobuf_delete_options_body(
    api: client.ApiClient, http: aiohttp.ClientSession
) -> None:
    """client-go's typed clients (Helm's release storage among them) send DeleteOptions as protobuf."""
    v1 = client.CoreV1Api(api)
    await v1.create_namespaced_config_map("default", _cm("gone"))
    await v1.create_namespaced_config_map("default", _cm("stays"))
    proto = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    # the envelope k8s\0 + Unknown{typeMeta{v1, DeleteOptions}, raw}: raw empty, then dryRun=[All]
    empty = b'k8s\x00\n\x13\n\x02v1\x12\rDeleteOptions\x12\x00\x1a\x00"\x00'
    dry = b"k8s\x00\n\x13\n\x02v1\x12\rDeleteOptions\x12\x05*\x03All"
    async with http.delete("/api/v1/namespaces/default/configmaps/stays", data=dry, headers=proto) as resp:
        assert resp.status == 200, await resp.text()
    async with http.delete("/api/v1/namespaces/default/configmaps/gone", data=empty, headers=proto) as resp:
        assert resp.status == 200, await resp.text()
    left = await v1.list_namespaced_config_map("default")
    assert [item.metadata.name for item in left.items] == ["stays"]
    async with http.delete("/api/v1/namespaces/default/configmaps/stays", data=b"k8s", headers=proto) as resp:
        assert resp.status == 400
        assert "DeleteOptions body is not valid protobuf" in (await resp.json())["message"]


async def test_status_and_scale_subresources(api: client.ApiClient) -> None:
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(WIDGET_CRD)
    custom = client.CustomObjectsApi(api)
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 1},
    }
    await custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget)
    await custom.patch_namespaced_custom_object_status(
        "example.com",
        "v1",
        "default",
        "widgets",
        "w",
        {"status": {"phase": "Ready"}, "spec": {"size": 9}},
        _content_type="application/merge-patch+json",
    )
    got = await custom.get_namespaced_custom_object_status("example.com", "v1", "default", "widgets", "w")
    assert got["status"] == {"phase": "Ready"} and got["spec"] == {"size": 1}  # status writes ignore spec
    apps = client.AppsV1Api(api)
    deployment = {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    await apps.create_namespaced_deployment("default", deployment)
    await apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 3}})
    scale = await apps.read_namespaced_deployment_scale("web", "default")
    assert scale.spec.replicas == 3 and scale.status.selector == "app=web"
    assert (await apps.read_namespaced_deployment("web", "default")).spec.replicas == 3


# -- watch --


async def test_watch_replays_from_a_resource_version_and_timeout_ends_it_cleanly(
    api: client.ApiClient,
) -> None:
    v1 = client.CoreV1Api(api)
    start = (await v1.list_namespaced_config_map("default")).metadata.resource_version
    await v1.create_namespaced_config_map("default", _cm("w1"))
    await v1.patch_namespaced_config_map("w1", "default", {"data": {"k": "2"}})
    await v1.delete_namespaced_config_map("w1", "default")
    seen = []
    began = time.monotonic()
    async with watch.Watch() as w:
        async for event in w.stream(
            v1.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=1
        ):
            seen.append((event["type"], event["object"].metadata.name))
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
    assert 0.9 < time.monotonic() - began < 5


async def test_watch_from_a_compacted_version_is_410_inside_a_200_stream(
    api: client.ApiClient, cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    v1 = client.CoreV1Api(api)
    start = (await v1.list_namespaced_config_map("default")).metadata.resource_version
    await v1.create_namespaced_config_map("default", _cm("c1"))
    await v1.create_namespaced_config_map("default", _cm("c2"))
    cluster.faults.compact()
    async with http.get(
        "/api/v1/namespaces/default/configmaps", params={"watch": "1", "resourceVersion": start}
    ) as resp:
        assert resp.status == 200
        lines = (await resp.read()).decode().splitlines()
    event = json.loads(lines[0])
    assert event["type"] == "ERROR" and event["object"]["code"] == 410
    assert event["object"]["reason"] == "Expired"
    with pytest.raises(ApiException) as gone:
        async with watch.Watch() as w:
            async for _ in w.stream(
                v1.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=5
            ):
                pass
    assert gone.value.status == 410


async def test_watch_sends_bookmarks_when_allowed(api: client.ApiClient, cluster: Cluster) -> None:
    cluster.store.bookmark_interval = 0.05
    v1 = client.CoreV1Api(api)
    rv = (await v1.list_namespaced_config_map("default")).metadata.resource_version
    async with watch.Watch() as w:
        stream = w.stream(
            v1.list_namespaced_config_map,
            "default",
            resource_version=rv,
            allow_watch_bookmarks=True,
            timeout_seconds=5,
        )
        event = await asyncio.wait_for(stream.__anext__(), 5)
        w.stop()
    assert event["type"] == "BOOKMARK"
    assert int(event["raw_object"]["metadata"]["resourceVersion"]) >= int(rv)


async def test_send_initial_events_ends_with_the_marked_bookmark(
    api: client.ApiClient, http: aiohttp.ClientSession
) -> None:
    await client.CoreV1Api(api).create_namespaced_config_map("default", _cm("x"))
    params = {
        "watch": "1",
        "sendInitialEvents": "true",
        "resourceVersionMatch": "NotOlderThan",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "1",
    }
    async with http.get("/api/v1/namespaces/default/configmaps", params=params) as resp:
        events = [json.loads(line) for line in (await resp.read()).decode().splitlines()]
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "x"
    end = events[1]
    assert end["type"] == "BOOKMARK"
    assert end["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


# -- printing and discovery --


async def test_server_side_table_for_a_crd_evaluates_printer_columns(
    api: client.ApiClient, http: aiohttp.ClientSession
) -> None:
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(WIDGET_CRD)
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 4},
    }
    custom = client.CustomObjectsApi(api)
    await custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget)
    await custom.patch_namespaced_custom_object_status(
        "example.com",
        "v1",
        "default",
        "widgets",
        "w",
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        _content_type="application/merge-patch+json",
    )
    async with http.get("/apis/example.com/v1/namespaces/default/widgets", headers={"Accept": TABLE}) as resp:
        table = await resp.json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Ready"]
    assert table["rows"][0]["cells"] == ["w", 4, "True"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


async def test_every_served_version_of_a_crd_reads_the_same_objects(api: client.ApiClient) -> None:
    crd = json.loads(json.dumps(WIDGET_CRD))
    beta = dict(crd["spec"]["versions"][0], name="v1beta1", storage=False)
    crd["spec"]["versions"].append(beta)
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
    custom = client.CustomObjectsApi(api)
    old = {
        "apiVersion": "example.com/v1beta1",
        "kind": "Widget",
        "metadata": {"name": "b"},
        "spec": {"size": 2},
    }
    await custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", old)
    got = await custom.get_namespaced_custom_object("example.com", "v1", "default", "widgets", "b")
    assert got["apiVersion"] == "example.com/v1" and got["spec"] == {"size": 2}
    got = await custom.get_namespaced_custom_object("example.com", "v1beta1", "default", "widgets", "b")
    assert got["apiVersion"] == "example.com/v1beta1"
    with pytest.raises(ApiException) as wrong:
        await custom.create_namespaced_custom_object(
            "example.com", "v1", "default", "widgets", dict(old, apiVersion="other.io/v1")
        )
    assert wrong.value.status == 400 and "does not match the expected API version" in wrong.value.body


async def test_a_new_crd_is_discoverable_at_once(api: client.ApiClient, http: aiohttp.ClientSession) -> None:
    assert (await client.VersionApi(api).get_code()).minor == "32"
    before = {g.name for g in (await client.ApisApi(api).get_api_versions()).groups}
    assert "example.com" not in before and "apps" in before
    await client.ApiextensionsV1Api(api).create_custom_resource_definition(WIDGET_CRD)
    after = {g.name: g for g in (await client.ApisApi(api).get_api_versions()).groups}
    assert after["example.com"].preferred_version.group_version == "example.com/v1"
    async with http.get("/apis/example.com/v1") as resp:
        resources = await resp.json()
    assert {r["name"] for r in resources["resources"]} == {"widgets", "widgets/status"}


async def test_health_endpoints(http: aiohttp.ClientSession) -> None:
    for path in ("/healthz", "/readyz", "/livez"):
        async with http.get(path) as resp:
            assert (resp.status, await resp.text()) == (200, "ok")
    async with http.get("/apis/nope.io/v1/things") as resp:
        status = await resp.json()
    assert (resp.status, status["reason"]) == (404, "NotFound")


# -- faults --


async def test_fail_next_requests_then_recover(api: client.ApiClient, cluster: Cluster) -> None:
    v1 = client.CoreV1Api(api)
    await v1.create_namespaced_config_map("default", _cm("f"))
    cluster.faults.fail(2, code=503, verb="get", resource="configmaps", name="f")
    codes = []
    for _ in range(2):
        with pytest.raises(ApiException) as err:
            await v1.read_namespaced_config_map("f", "default")
        codes.append(err.value.status)
    assert codes == [503, 503]
    assert (await v1.read_namespaced_config_map("f", "default")).metadata.name == "f"
    await v1.list_namespaced_config_map("default")  # other verbs were never affected


async def test_throttle_with_retry_after(api: client.ApiClient, cluster: Cluster) -> None:
    cluster.faults.fail(code=429, retry_after=7, verb="list")
    with pytest.raises(ApiException) as err:
        await client.CoreV1Api(api).list_namespace()
    assert err.value.status == 429 and err.value.headers["Retry-After"] == "7"
    assert json.loads(err.value.body)["details"]["retryAfterSeconds"] == 7


async def test_latency_applies_to_matching_requests_only(api: client.ApiClient, cluster: Cluster) -> None:
    v1 = client.CoreV1Api(api)
    cluster.faults.delay(0.3, verb="list", resource="configmaps")
    began = time.monotonic()
    await v1.list_namespaced_config_map("default")
    slow = time.monotonic() - began
    began = time.monotonic()
    await v1.list_namespace()
    fast = time.monotonic() - began
    assert slow >= 0.3 and fast < 0.3


async def test_drop_watches_ends_open_streams(api: client.ApiClient, cluster: Cluster) -> None:
    v1 = client.CoreV1Api(api)
    await v1.create_namespaced_config_map("default", _cm("d"))
    seen: list[str] = []
    got_first = asyncio.Event()

    async def consume() -> None:
        async with watch.Watch() as w:
            async for event in w.stream(v1.list_namespaced_config_map, "default", timeout_seconds=60):
                seen.append(event["type"])
                got_first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_first.wait(), 5)
    assert cluster.faults.drop_watches() == 1
    await asyncio.wait_for(task, 5)  # the stream ended long before its 60 s timeout
    assert seen == ["ADDED"]


# -- logs, TLS, snapshots --


@pytest.mark.parametrize("sim_options", [{"workloads": True, "arm": False}])
async def test_pod_logs_come_from_the_workload_simulator(api: client.ApiClient) -> None:
    v1 = client.CoreV1Api(api)
    node = {
        "metadata": {"name": "node-1"},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
        },
    }
    await v1.create_node(node)
    spec = {
        "initContainers": [{"name": "setup", "image": "busybox"}],
        "containers": [{"name": "main", "image": "busybox"}],
    }
    await v1.create_namespaced_pod("default", {"metadata": {"name": "p"}, "spec": spec})
    deadline = time.monotonic() + 20
    while (await v1.read_namespaced_pod("p", "default")).status.phase != "Running":
        assert time.monotonic() < deadline, "pod p never reached Running"
        await asyncio.sleep(0.05)
    before = await v1.read_namespaced_pod_log("p", "default")
    assert "started container main" in before
    # The log only grows while we read it, so compare against reads taken before and after the tail: the
    # one line tail_lines=1 returns is a line of the later log, at or after the last line of the earlier one.
    tail = await v1.read_namespaced_pod_log("p", "default", tail_lines=1)
    after = (await v1.read_namespaced_pod_log("p", "default")).splitlines(keepends=True)
    assert len(tail.splitlines()) == 1
    assert tail in after[len(before.splitlines()) - 1 :]
    # an init container's log is read by its name, as kubectl logs POD -c INIT does
    assert "started container setup" in await v1.read_namespaced_pod_log("p", "default", container="setup")
    with pytest.raises(ApiException) as bad:
        await v1.read_namespaced_pod_log("p", "default", container="sidecar")
    assert bad.value.status == 400


async def test_tls_cluster_is_trusted_through_its_kubeconfig() -> None:
    async with Cluster(workloads=False, arm=False) as tls_cluster:
        assert tls_cluster.url.startswith("https://127.0.0.1:")
        async with await _api_client(Path(tls_cluster.kubeconfig)) as api_client:
            names = {ns.metadata.name for ns in (await client.CoreV1Api(api_client).list_namespace()).items}
    assert "default" in names


async def test_snapshot_survives_a_restart(tmp_path: Path) -> None:
    snapshot = tmp_path / "sim.json"
    async with Cluster(workloads=False, arm=False, snapshot_path=snapshot) as first:
        api_client = await _api_client(Path(first.kubeconfig))
        async with api_client:
            created = await client.CoreV1Api(api_client).create_namespaced_config_map("default", _cm("kept"))
    async with Cluster(workloads=False, arm=False, snapshot_path=snapshot) as second:
        api_client = await _api_client(Path(second.kubeconfig))
        async with api_client:
            again = await client.CoreV1Api(api_client).read_namespaced_config_map("kept", "default")
    assert again.metadata.uid == created.metadata.uid


@pytest.mark.parametrize("sim_options", [{}])
async def test_the_default_cluster_runs_every_part(cluster: Cluster, api: client.ApiClient) -> None:
    assert cluster.workloads is not None and cluster.arm is not None
    assert cluster.arm.url.startswith("https://127.0.0.1:")
    assert cluster.tls_bundle is not None and str(cluster.tls_bundle.ca_path) == str(cluster.arm.ca_path)
    assert cluster.apiserver is not None and cluster.apiserver.log_provider is not None
    names = {ns.metadata.name for ns in (await client.CoreV1Api(api).list_namespace()).items}
    assert {"default", "kube-system"} <= names
