"""API-server conformance: the same assertions through kubectl, kubernetes-asyncio and the sync client.

The module takes a kubeconfig. The `target` fixture is parametrized twice: "sim" starts one kaito.sim
Cluster for the whole module; "real" uses the cluster named by KAITO_CONFORMANCE_KUBECONFIG (kind, say) and
is skipped, with the reason printed, when that variable is unset. Each test runs once per client (the `client`
fixture) against each target, and isolates itself in a fresh namespace with unique names, so tests share the
cluster without interfering. The few assertions that need kaito.sim's fault hooks (forced compaction, dropping
every watch) skip on a real cluster with the reason.

Every test asserts what a user of the client would notice: returned objects, HTTP status codes and reasons,
watch event sequences, printed columns. Asynchronous controller work (garbage collection, namespace teardown,
CRD establishment) is awaited by polling with a deadline (`target.patience_s`), never with a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from integration.sim import conformance_drivers as _drivers

ApiFailure = _drivers.ApiFailure
Kind = _drivers.Kind
PatchType = _drivers.PatchType
CLIENT_NAMES = _drivers.CLIENT_NAMES
open_client = _drivers.open_client

__all__: list[str] = []

pytestmark = [pytest.mark.integration, pytest.mark.conformance, pytest.mark.asyncio(loop_scope="module")]

KUBECONFIG_ENV = "KAITO_CONFORMANCE_KUBECONFIG"
NO_REAL_CLUSTER = f"{KUBECONFIG_ENV} not set: no real cluster configured"

NAMESPACE = Kind("v1", "Namespace", "namespaces", namespaced=False)
CONFIGMAP = Kind("v1", "ConfigMap", "configmaps")
SECRET = Kind("v1", "Secret", "secrets")
POD = Kind("v1", "Pod", "pods")
EVENT = Kind("v1", "Event", "events")
DEPLOYMENT = Kind("apps/v1", "Deployment", "deployments")
CRD = Kind("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", False)
GROUP = "conformance.kaito.sh"
WIDGET = Kind(f"{GROUP}/v1", "Widget", "widgets")


# ------------------------------------------------------------------------------------------------ fixtures


@dataclass
class Target:
    """A cluster under test. `cluster` is the kaito.sim Cluster (fault hooks), None for a real cluster."""

    name: str
    kubeconfig: Path
    cluster: Any | None
    patience_s: float

    def sim_hooks(self, what: str) -> Any:
        if self.cluster is None:
            pytest.skip(f"{what} needs kaito.sim's fault hooks; a real cluster offers none")
        return self.cluster


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sim", pytest.param("real", marks=pytest.mark.e2e_kind)],
)
async def target(request: pytest.FixtureRequest) -> AsyncIterator[Target]:
    if request.param == "real":
        path = os.environ.get(KUBECONFIG_ENV)
        if not path:
            pytest.skip(NO_REAL_CLUSTER)
        yield Target("real", Path(path), None, patience_s=90.0)
        return
    from kaito.sim.cluster import Cluster

    async with Cluster(workloads=False, arm=False) as cluster:
        cluster.store.bookmark_interval = 0.2  # kube sends one a minute; the sim's knob keeps the test fast
        yield Target("sim", Path(cluster.kubeconfig), cluster, patience_s=10.0)


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=CLIENT_NAMES)
async def client(
    request: pytest.FixtureRequest, target: Target, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Any]:
    opened = await open_client(request.param, target.kubeconfig, tmp_path_factory.mktemp(request.param))
    yield opened
    await opened.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def admin(target: Target, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """A client for setup and teardown only (namespaces, the shared CRD), never for the assertion itself."""
    opened = await open_client("kubernetes_asyncio", target.kubeconfig, tmp_path_factory.mktemp("admin"))
    yield opened
    await opened.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(loop_scope="module")
async def ns(admin: Any) -> AsyncIterator[str]:
    name = unique("conf")
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    with contextlib.suppress(ApiFailure):
        await admin.delete(NAMESPACE, name)


async def eventually(check: Callable[[], Awaitable[bool]], patience_s: float, what: str) -> None:
    """Poll `check` until it holds; fail naming `what` after `patience_s` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience_s
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"after {patience_s}s: {what}")
        await asyncio.sleep(0.05)


async def is_gone(client: Any, kind: Any, name: str, namespace: str | None = None) -> bool:
    try:
        await client.get(kind, name, namespace)
    except ApiFailure as failure:
        if failure.code == 404:
            return True
        raise
    return False


def configmap(name: str, namespace: str, data: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "data": data or {"k": "v"},
    }


def rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


def crd_manifest(group: str, kind: str, plural: str) -> dict[str, Any]:
    """A namespaced CRD with a status subresource, printer columns, and every schema rule the tests probe."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {"name": "Size", "type": "string", "jsonPath": ".spec.size", "priority": 1},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "required": ["replicas"],
                                    "x-kubernetes-validations": [
                                        {
                                            "rule": "self.minReplicas <= self.replicas",
                                            "message": "replicas must be at least minReplicas",
                                        }
                                    ],
                                    "properties": {
                                        "replicas": {"type": "integer", "minimum": 0},
                                        "minReplicas": {"type": "integer", "default": 0},
                                        "size": {
                                            "type": "string",
                                            "enum": ["small", "large"],
                                            "default": "small",
                                        },
                                        "owner": {"type": "string", "pattern": "^[a-z]+$"},
                                    },
                                },
                                "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
                            },
                        }
                    },
                }
            ],
        },
    }


async def wait_established(client: Any, crd_name: str, patience_s: float) -> None:
    async def established() -> bool:
        got = await client.get(CRD, crd_name)
        conditions = (got.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

    await eventually(established, patience_s, f"CRD {crd_name} never reported Established=True")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def widget_kind(admin: Any, target: Target) -> AsyncIterator[Any]:
    manifest = crd_manifest(GROUP, "Widget", "widgets")
    name = manifest["metadata"]["name"]
    with contextlib.suppress(ApiFailure):
        await admin.delete(CRD, name)
    await eventually(
        lambda: is_gone(admin, CRD, name), target.patience_s, f"stale CRD {name} was never deleted"
    )
    await admin.create(manifest)
    await wait_established(admin, name, target.patience_s)
    yield WIDGET
    with contextlib.suppress(ApiFailure):
        await admin.delete(CRD, name)


def widget(
    name: str, namespace: str, spec: dict[str, Any], status: dict[str, Any] | None = None
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": WIDGET.api_version,
        "kind": "Widget",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    if status is not None:
        obj["status"] = status
    return obj


# -------------------------------------------------------------------------------------------- resourceVersion


async def test_resource_version_increases_with_every_write(client: Any, ns: str) -> None:
    """One counter for the whole cluster, like etcd's revision: a later write of any kind gets more."""
    first = await client.create(configmap("rv-a", ns))
    patched = await client.patch(CONFIGMAP, "rv-a", {"data": {"k": "v2"}}, PatchType.MERGE, ns)
    patched_again = await client.patch(CONFIGMAP, "rv-a", {"data": {"k": "v3"}}, PatchType.MERGE, ns)
    second = await client.create(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "rv-b", "namespace": ns}}
    )

    assert rv(first) < rv(patched) < rv(patched_again) < rv(second)
    assert rv(await client.get(CONFIGMAP, "rv-a", ns)) == rv(patched_again)


async def test_list_carries_a_list_resource_version(client: Any, ns: str) -> None:
    created = [await client.create(configmap(name, ns)) for name in ("list-a", "list-b")]

    listed = await client.list(CONFIGMAP, ns)

    assert {"list-a", "list-b"} <= listed.names
    assert listed.resource_version, "the list carries no metadata.resourceVersion"
    assert int(listed.resource_version) >= max(rv(obj) for obj in created)


# ------------------------------------------------------------------------------------------------ watch


async def test_watch_sends_current_state_then_changes(client: Any, ns: str) -> None:
    await client.create(configmap("w-a", ns))
    async with await client.watch(CONFIGMAP, ns, timeout_s=30) as stream:
        initial = await stream.take(1, 10, names={"w-a"})
        await client.create(configmap("w-b", ns))
        await client.patch(CONFIGMAP, "w-a", {"data": {"k": "changed"}}, PatchType.MERGE, ns)
        await client.delete(CONFIGMAP, "w-b", ns)
        changes = await stream.take(3, 10, names={"w-a", "w-b"})

    assert [(e.type, e.name) for e in initial] == [("ADDED", "w-a")]
    assert [(e.type, e.name) for e in changes] == [("ADDED", "w-b"), ("MODIFIED", "w-a"), ("DELETED", "w-b")]
    assert changes[1].object["data"] == {"k": "changed"}


async def test_watch_from_a_resource_version_replays_what_came_after_it(client: Any, ns: str) -> None:
    start = await client.create(configmap("r-a", ns))
    await client.patch(CONFIGMAP, "r-a", {"data": {"k": "v2"}}, PatchType.MERGE, ns)
    await client.create(configmap("r-b", ns))
    await client.delete(CONFIGMAP, "r-a", ns)

    async with await client.watch(CONFIGMAP, ns, resource_version=str(rv(start)), timeout_s=30) as stream:
        replayed = await stream.take(3, 10, names={"r-a", "r-b"})

    assert [(e.type, e.name) for e in replayed] == [("MODIFIED", "r-a"), ("ADDED", "r-b"), ("DELETED", "r-a")]
    versions = [e.resource_version for e in replayed]
    assert versions == sorted(versions) and versions[0] > rv(start)


async def test_watch_with_allow_bookmarks_receives_bookmarks(client: Any, ns: str, target: Target) -> None:
    start = await client.create(configmap("bm-a", ns))
    # kube sends one a minute, and one 2 s before timeoutSeconds ends; kaito.sim every 0.2 s here.
    timeout_s = 5 if target.cluster is not None else 15
    async with await client.watch(
        CONFIGMAP, ns, resource_version=str(rv(start)), allow_bookmarks=True, timeout_s=timeout_s
    ) as stream:
        bookmark = None
        while bookmark is None:
            event = await stream.next(timeout_s + 5)
            assert event is not None, "the watch ended without sending a BOOKMARK"
            bookmark = event if event.type == "BOOKMARK" else None

    assert bookmark.object["kind"] == "ConfigMap"
    assert bookmark.resource_version >= rv(start)


async def test_watch_from_a_compacted_resource_version_is_gone(client: Any, ns: str, target: Target) -> None:
    cluster = target.sim_hooks("forcing compaction")
    old = await client.create(configmap("gone-a", ns))
    await client.patch(CONFIGMAP, "gone-a", {"data": {"k": "v2"}}, PatchType.MERGE, ns)
    cluster.faults.compact()

    async with await client.watch(CONFIGMAP, ns, resource_version=str(rv(old)), timeout_s=10) as stream:
        with pytest.raises(ApiFailure) as failure:
            await stream.next(10)

    assert (failure.value.code, failure.value.reason) == (410, "Expired")
    assert "too old resource version" in failure.value.message


async def test_dropped_watches_end_the_stream(client: Any, ns: str, target: Target) -> None:
    cluster = target.sim_hooks("dropping every watch")
    await client.create(configmap("drop-a", ns))
    async with await client.watch(CONFIGMAP, ns, timeout_s=30) as stream:
        assert [e.name for e in await stream.take(1, 10, names={"drop-a"})] == ["drop-a"]
        await client.create(
            configmap("drop-b", ns)
        )  # its event proves the watch is open (kubectl lists first)
        assert [e.name for e in await stream.take(1, 10, names={"drop-b"})] == ["drop-b"]
        cluster.faults.drop_watches()
        try:
            ended = await stream.next(5) is None
        except ApiFailure as failure:  # kubectl reports a closed watch on stderr; any server Status is a bug
            ended = failure.code == 0
        assert ended, "the watch stream did not end when the server dropped it"


# ------------------------------------------------------------------------------------------------ writes


@pytest.mark.parametrize("write", ["update", "merge-patch"])
async def test_write_with_a_stale_resource_version_conflicts(client: Any, ns: str, write: str) -> None:
    """A resourceVersion in the body is a precondition, for a PUT and for a patch that carries one."""
    stale = await client.create(configmap("cfl-a", ns))
    await client.patch(CONFIGMAP, "cfl-a", {"data": {"k": "newer"}}, PatchType.MERGE, ns)

    with pytest.raises(ApiFailure) as failure:
        if write == "update":
            stale["data"] = {"k": "from-stale-read"}
            await client.replace(CONFIGMAP, stale)
        else:
            body = {"metadata": {"resourceVersion": stale["metadata"]["resourceVersion"]}, "data": {"k": "x"}}
            await client.patch(CONFIGMAP, "cfl-a", body, PatchType.MERGE, ns)

    assert (failure.value.code, failure.value.reason) == (409, "Conflict")
    assert "the object has been modified" in failure.value.message
    assert (await client.get(CONFIGMAP, "cfl-a", ns))["data"] == {"k": "newer"}


@pytest.mark.parametrize("kind_name", ["Widget", "Deployment"])
async def test_generation_bumps_on_spec_changes_only(
    client: Any, ns: str, widget_kind: Any, kind_name: str
) -> None:
    if kind_name == "Widget":
        kind, obj, spec_patch = widget_kind, widget("gen", ns, {"replicas": 1}), {"spec": {"replicas": 2}}
    else:
        kind, obj, spec_patch = DEPLOYMENT, deployment("gen", ns), {"spec": {"replicas": 2}}

    created = await client.create(obj)
    relabelled = await client.patch(kind, "gen", {"metadata": {"labels": {"x": "y"}}}, PatchType.MERGE, ns)
    respecced = await client.patch(kind, "gen", spec_patch, PatchType.MERGE, ns)

    generations = [o["metadata"]["generation"] for o in (created, relabelled, respecced)]
    assert generations == [1, 1, 2]


async def test_generation_only_where_kube_keeps_one(client: Any, ns: str) -> None:
    """ConfigMaps have no generation, whatever changes; a Deployment's moves with its annotations too (kube's
    deployment strategy: annotations are copied to its ReplicaSets)."""
    created = await client.create(configmap("nogen", ns, {"a": "1"}))
    changed = await client.patch(CONFIGMAP, "nogen", {"data": {"a": "2"}}, PatchType.MERGE, ns)
    assert "generation" not in created["metadata"] and "generation" not in changed["metadata"]

    await client.create(deployment("annotated", ns))
    note = {"metadata": {"annotations": {"note": "x"}}}
    annotated = await client.patch(DEPLOYMENT, "annotated", note, PatchType.MERGE, ns)
    assert annotated["metadata"]["generation"] == 2


async def test_status_subresource_separates_spec_and_status(client: Any, ns: str, widget_kind: Any) -> None:
    created = await client.create(widget("st", ns, {"replicas": 1}, status={"phase": "Ignored"}))
    assert "phase" not in (created.get("status") or {}), "create must drop status for a kind with /status"

    main = copy.deepcopy(created)
    main["spec"]["replicas"] = 2
    main["status"] = {"phase": "Hacked"}
    after_main = await client.replace(widget_kind, main)
    assert after_main["spec"]["replicas"] == 2
    assert "phase" not in (after_main.get("status") or {}), "a main-resource write changed status"

    via_status = copy.deepcopy(after_main)
    via_status["spec"]["replicas"] = 7
    via_status["status"] = {"phase": "Ready"}
    after_status = await client.replace(widget_kind, via_status, subresource="status")
    assert after_status["status"] == {"phase": "Ready"}
    assert after_status["spec"]["replicas"] == 2, "a /status write changed spec"
    assert after_status["metadata"]["generation"] == after_main["metadata"]["generation"]

    patched = await client.patch(
        widget_kind,
        "st",
        {"spec": {"replicas": 9}, "status": {"phase": "Done"}},
        PatchType.MERGE,
        ns,
        subresource="status",
    )
    assert (patched["spec"]["replicas"], patched["status"]["phase"]) == (2, "Done")


def deployment(name: str, namespace: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "registry.k8s.io/pause:3.9"},
                        {"name": "sidecar", "image": "registry.k8s.io/pause:3.9"},
                    ]
                },
            },
        },
    }


def _containers(obj: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["image"] for c in obj["spec"]["template"]["spec"]["containers"]}


PAUSE = "registry.k8s.io/pause:3.9"
NEW = "registry.k8s.io/pause:3.10"
PATCH_CASES = [
    pytest.param(
        PatchType.MERGE,
        {"metadata": {"labels": {"tier": "web"}}, "spec": {"replicas": 3}},
        lambda d: (d["metadata"]["labels"]["tier"], d["spec"]["replicas"]) == ("web", 3),
        id="merge-patch-fields",
    ),
    pytest.param(
        PatchType.MERGE,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": NEW}]}}}},
        lambda d: _containers(d) == {"app": NEW},
        id="merge-patch-replaces-lists",
    ),
    pytest.param(
        PatchType.JSON,
        [
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 4},
            {"op": "add", "path": "/metadata/labels", "value": {"via": "json-patch"}},
        ],
        lambda d: (d["spec"]["replicas"], d["metadata"]["labels"]) == (4, {"via": "json-patch"}),
        id="json-patch",
    ),
    pytest.param(
        PatchType.STRATEGIC,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": NEW}]}}}},
        lambda d: _containers(d) == {"app": NEW, "sidecar": PAUSE},
        id="strategic-merges-containers-by-name",
    ),
    pytest.param(
        PatchType.STRATEGIC,
        {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}},
        lambda d: _containers(d) == {"app": PAUSE},
        id="strategic-delete-directive",
    ),
]


@pytest.mark.parametrize(("patch_type", "body", "holds"), PATCH_CASES)
async def test_patch_formats_on_a_deployment(
    client: Any, ns: str, patch_type: Any, body: Any, holds: Callable[[dict[str, Any]], bool]
) -> None:
    await client.create(deployment("patched", ns))

    returned = await client.patch(DEPLOYMENT, "patched", body, patch_type, ns)

    assert holds(returned), returned["spec"]
    assert holds(await client.get(DEPLOYMENT, "patched", ns))


async def test_json_patch_failing_test_op_is_rejected(client: Any, ns: str) -> None:
    await client.create(configmap("jp", ns, {"k": "v"}))
    body = [
        {"op": "test", "path": "/data/k", "value": "other"},
        {"op": "replace", "path": "/data/k", "value": "x"},
    ]

    with pytest.raises(ApiFailure) as failure:
        await client.patch(CONFIGMAP, "jp", body, PatchType.JSON, ns)

    assert failure.value.code == 422
    assert (await client.get(CONFIGMAP, "jp", ns))["data"] == {"k": "v"}


async def test_server_side_apply_creates_then_updates(client: Any, ns: str) -> None:
    manager = "conformance-apply"
    created = await client.apply(CONFIGMAP, configmap("ssa", ns, {"k": "v1"}), field_manager=manager)
    updated = await client.apply(
        CONFIGMAP, configmap("ssa", ns, {"k": "v2", "k2": "w"}), field_manager=manager
    )

    assert created["data"] == {"k": "v1"}
    assert updated["data"] == {"k": "v2", "k2": "w"}
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    assert rv(updated) > rv(created)
    entries = [(m.get("manager"), m.get("operation")) for m in updated["metadata"].get("managedFields") or []]
    assert (manager, "Apply") in entries


async def test_server_side_apply_tracks_field_ownership(client: Any, ns: str) -> None:
    await client.apply(CONFIGMAP, configmap("own", ns, {"k": "v1", "dropped": "x"}), field_manager="first")

    shrunk = await client.apply(CONFIGMAP, configmap("own", ns, {"k": "v1"}), field_manager="first")
    assert shrunk["data"] == {"k": "v1"}, "a field its manager no longer applies must go"

    with pytest.raises(ApiFailure) as failure:
        await client.apply(CONFIGMAP, configmap("own", ns, {"k": "theirs"}), field_manager="second")
    assert (failure.value.code, failure.value.reason) == (409, "Conflict")
    assert '"first"' in failure.value.message and ".data.k" in failure.value.message

    forced = await client.apply(
        CONFIGMAP, configmap("own", ns, {"k": "theirs"}), field_manager="second", force=True
    )
    assert forced["data"] == {"k": "theirs"}


# ------------------------------------------------------------------------------------------------ selectors


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def selector_ns(admin: Any) -> AsyncIterator[str]:
    """One namespace of labelled Secrets, node-bound Pods and Events, read by every selector case."""
    name = unique("conf-sel")
    await admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    labels = {
        "alpha": {"app": "web", "tier": "frontend"},
        "beta": {"app": "web", "tier": "backend"},
        "gamma": {"app": "db"},
        "delta": {},
    }
    for secret, secret_labels in labels.items():
        meta = {"name": secret, "namespace": name, "labels": secret_labels}
        await admin.create({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": {}})
    for pod, node in (("pod-a", "conf-node-a"), ("pod-b", "conf-node-b")):
        spec = {"nodeName": node, "containers": [{"name": "c", "image": PAUSE}]}
        await admin.create(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod, "namespace": name}, "spec": spec},
        )
    for event, about in (("ev-alpha", "alpha"), ("ev-beta", "beta")):
        await admin.create(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": event, "namespace": name},
                "involvedObject": {"apiVersion": "v1", "kind": "Secret", "name": about, "namespace": name},
                "reason": "Probed",
                "message": f"conformance event about {about}",
                "type": "Normal",
                "source": {"component": "conformance"},
            },
        )
    yield name
    with contextlib.suppress(ApiFailure):
        await admin.delete(NAMESPACE, name)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", {"alpha", "beta"}),
        ("app==web", {"alpha", "beta"}),
        ("app!=web", {"gamma", "delta"}),
        ("tier in (frontend,backend)", {"alpha", "beta"}),
        ("tier notin (frontend)", {"beta", "gamma", "delta"}),
        ("tier", {"alpha", "beta"}),
        ("!tier", {"gamma", "delta"}),
        ("app=web,tier!=backend", {"alpha"}),
    ],
)
async def test_label_selectors(client: Any, selector_ns: str, selector: str, expected: set[str]) -> None:
    listed = await client.list(SECRET, selector_ns, label_selector=selector)
    assert listed.names == expected


@pytest.mark.parametrize(
    ("kind", "all_namespaces", "selector", "expected"),
    [
        (SECRET, False, "metadata.name=alpha", {"alpha"}),
        (SECRET, False, "metadata.name!=alpha", {"beta", "gamma", "delta"}),
        (SECRET, True, "metadata.namespace={ns}", {"alpha", "beta", "gamma", "delta"}),
        (POD, False, "spec.nodeName=conf-node-a", {"pod-a"}),
        (EVENT, False, "involvedObject.name=alpha", {"ev-alpha"}),
        (EVENT, False, "involvedObject.kind=Secret,involvedObject.name=beta", {"ev-beta"}),
    ],
    ids=["name", "name-not", "namespace-across-all", "pod-node", "event-object", "event-kind-and-object"],
)
async def test_field_selectors(
    client: Any, selector_ns: str, kind: Any, all_namespaces: bool, selector: str, expected: set[str]
) -> None:
    listed = await client.list(
        kind, None if all_namespaces else selector_ns, field_selector=selector.format(ns=selector_ns)
    )
    assert listed.names == expected


@pytest.mark.parametrize(
    ("label_selector", "field_selector", "fragment"),
    [
        ("tier in (frontend", None, "tier in (frontend"),
        (None, "spec.flavour=sweet", "spec.flavour"),
    ],
    ids=["malformed-label-selector", "unsupported-field-label"],
)
async def test_bad_selectors_are_bad_requests(
    client: Any, selector_ns: str, label_selector: str | None, field_selector: str | None, fragment: str
) -> None:
    with pytest.raises(ApiFailure) as failure:
        await client.list(SECRET, selector_ns, label_selector=label_selector, field_selector=field_selector)

    assert (failure.value.code, failure.value.reason) == (400, "BadRequest")
    assert fragment in failure.value.message


# ------------------------------------------------------------------------------------------------ deletion


async def test_finalizers_hold_deletion_until_the_last_is_removed(client: Any, ns: str) -> None:
    finalizers = ["conformance.kaito.sh/first", "conformance.kaito.sh/second"]
    await client.create(configmap("fin", ns, finalizers=finalizers))

    await client.delete(CONFIGMAP, "fin", ns)
    held = await client.get(CONFIGMAP, "fin", ns)
    assert held["metadata"].get("deletionTimestamp"), (
        "a deleted object with finalizers has no deletionTimestamp"
    )
    assert held["metadata"]["finalizers"] == finalizers

    one_left = await client.patch(
        CONFIGMAP, "fin", {"metadata": {"finalizers": finalizers[1:]}}, PatchType.MERGE, ns
    )
    assert one_left["metadata"]["finalizers"] == finalizers[1:]
    await client.patch(CONFIGMAP, "fin", {"metadata": {"finalizers": None}}, PatchType.MERGE, ns)
    assert await is_gone(client, CONFIGMAP, "fin", ns)


def owned_by(owner: dict[str, Any], *, block: bool = False) -> list[dict[str, Any]]:
    meta = owner["metadata"]
    ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"]}
    if block:
        ref["blockOwnerDeletion"] = True
    return [ref]


async def test_background_deletion_collects_dependents(client: Any, ns: str, target: Target) -> None:
    owner = await client.create(configmap("bg-owner", ns))
    await client.create(configmap("bg-dependent", ns, ownerReferences=owned_by(owner)))

    await client.delete(CONFIGMAP, "bg-owner", ns, propagation="Background")

    assert await is_gone(client, CONFIGMAP, "bg-owner", ns)
    await eventually(
        lambda: is_gone(client, CONFIGMAP, "bg-dependent", ns),
        target.patience_s,
        "the dependent was not collected",
    )


async def test_orphan_deletion_keeps_dependents_without_the_owner(
    client: Any, ns: str, target: Target
) -> None:
    owner = await client.create(configmap("or-owner", ns))
    await client.create(configmap("or-dependent", ns, ownerReferences=owned_by(owner)))

    await client.delete(CONFIGMAP, "or-owner", ns, propagation="Orphan")

    await eventually(lambda: is_gone(client, CONFIGMAP, "or-owner", ns), target.patience_s, "owner stayed")

    async def released() -> bool:
        refs = (await client.get(CONFIGMAP, "or-dependent", ns))["metadata"].get("ownerReferences") or []
        return all(ref["uid"] != owner["metadata"]["uid"] for ref in refs)

    await eventually(released, target.patience_s, "the orphaned dependent still names its deleted owner")


async def test_foreground_deletion_waits_for_blocking_dependents(
    client: Any, ns: str, target: Target
) -> None:
    owner = await client.create(configmap("fg-owner", ns))
    hold = ["conformance.kaito.sh/hold"]
    await client.create(
        configmap("fg-dependent", ns, ownerReferences=owned_by(owner, block=True), finalizers=hold)
    )

    await client.delete(CONFIGMAP, "fg-owner", ns, propagation="Foreground")

    deleting = await client.get(CONFIGMAP, "fg-owner", ns)
    assert deleting["metadata"].get("deletionTimestamp")
    assert "foregroundDeletion" in deleting["metadata"]["finalizers"]

    async def dependent_deleting() -> bool:
        return bool((await client.get(CONFIGMAP, "fg-dependent", ns))["metadata"].get("deletionTimestamp"))

    await eventually(
        dependent_deleting, target.patience_s, "the blocking dependent was never marked for deletion"
    )
    assert not await is_gone(client, CONFIGMAP, "fg-owner", ns), (
        "the owner went before its blocking dependent"
    )

    await client.patch(CONFIGMAP, "fg-dependent", {"metadata": {"finalizers": None}}, PatchType.MERGE, ns)
    await eventually(
        lambda: is_gone(client, CONFIGMAP, "fg-dependent", ns), target.patience_s, "dependent stayed"
    )
    await eventually(lambda: is_gone(client, CONFIGMAP, "fg-owner", ns), target.patience_s, "owner stayed")


async def test_namespace_deletion_removes_its_contents(client: Any, target: Target) -> None:
    doomed = unique("conf-doomed")
    await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": doomed}})
    await client.create(configmap("inside", doomed))
    await client.create(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "inside", "namespace": doomed}}
    )

    await client.delete(NAMESPACE, doomed)

    with contextlib.suppress(ApiFailure):  # already gone is fine; still there must mean Terminating
        still = await client.get(NAMESPACE, doomed)
        assert still["status"]["phase"] == "Terminating"
        assert still["metadata"].get("deletionTimestamp")
    await eventually(
        lambda: is_gone(client, CONFIGMAP, "inside", doomed), target.patience_s, "configmap stayed"
    )
    await eventually(lambda: is_gone(client, SECRET, "inside", doomed), target.patience_s, "secret stayed")
    await eventually(lambda: is_gone(client, NAMESPACE, doomed), target.patience_s, "namespace stayed")


async def test_terminating_namespace_refuses_new_content(client: Any, target: Target) -> None:
    doomed = unique("conf-held")
    await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": doomed}})
    await client.create(configmap("held", doomed, finalizers=["conformance.kaito.sh/hold"]))

    await client.delete(NAMESPACE, doomed)

    async def held_deleting() -> bool:
        return bool((await client.get(CONFIGMAP, "held", doomed))["metadata"].get("deletionTimestamp"))

    await eventually(held_deleting, target.patience_s, "the namespace's content was never deleted")
    terminating = await client.get(NAMESPACE, doomed)
    assert terminating["status"]["phase"] == "Terminating", "a namespace with content left must stay"
    with pytest.raises(ApiFailure) as failure:
        await client.create(configmap("late", doomed))
    assert (failure.value.code, failure.value.reason) == (403, "Forbidden")
    assert "being terminated" in failure.value.message

    await client.patch(CONFIGMAP, "held", {"metadata": {"finalizers": None}}, PatchType.MERGE, doomed)
    await eventually(lambda: is_gone(client, NAMESPACE, doomed), target.patience_s, "namespace stayed")


# ------------------------------------------------------------------------------------------------ CRDs


async def test_applied_crd_is_served_at_once(client: Any, ns: str, target: Target) -> None:
    group = f"{client.name.replace('_', '-')}.{GROUP}"
    manifest = crd_manifest(group, "Gadget", "gadgets")
    name = manifest["metadata"]["name"]
    gadget = Kind(f"{group}/v1", "Gadget", "gadgets")
    with contextlib.suppress(ApiFailure):
        await client.delete(CRD, name)
    await eventually(lambda: is_gone(client, CRD, name), target.patience_s, f"stale CRD {name} stayed")
    try:
        await client.create(manifest)
        await wait_established(client, name, target.patience_s)
        obj = {
            "apiVersion": gadget.api_version,
            "kind": "Gadget",
            "metadata": {"name": "g1", "namespace": ns},
            "spec": {"replicas": 1},
        }

        created = await client.create(obj)

        assert created["metadata"]["uid"]
        assert (await client.list(gadget, ns)).names == {"g1"}
    finally:
        with contextlib.suppress(ApiFailure):
            await client.delete(CRD, name)


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ({"replicas": "three"}, ["spec.replicas"]),
        ({"size": "small"}, ["spec.replicas", "Required value"]),
        ({"replicas": 1, "size": "huge"}, ["spec.size", "Unsupported value"]),
        ({"replicas": 1, "owner": "Bob1"}, ["spec.owner", "^[a-z]+$"]),
        ({"replicas": -1}, ["spec.replicas", "greater than or equal to 0"]),
        ({"replicas": 1, "minReplicas": 3}, ["spec", "replicas must be at least minReplicas"]),
    ],
    ids=["type", "required", "enum", "pattern", "minimum", "cel-rule"],
)
async def test_crd_schema_is_enforced(
    client: Any, ns: str, widget_kind: Any, spec: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(ApiFailure) as failure:
        await client.create(widget("bad", ns, spec))

    assert (failure.value.code, failure.value.reason) == (422, "Invalid")
    for fragment in fragments:
        assert fragment in failure.value.message


async def test_crd_schema_defaults_are_applied(client: Any, ns: str, widget_kind: Any) -> None:
    created = await client.create(widget("defaulted", ns, {"replicas": 2}))
    assert created["spec"] == {"replicas": 2, "minReplicas": 0, "size": "small"}


async def test_crd_unknown_fields_are_pruned(client: Any, ns: str, widget_kind: Any) -> None:
    created = await client.create(widget("pruned", ns, {"replicas": 1, "colour": "red"}))

    assert "colour" not in created["spec"]
    assert "colour" not in (await client.get(widget_kind, "pruned", ns))["spec"]


# ------------------------------------------------------------------------------------------------ printing


async def test_crd_printer_columns_in_server_side_table(client: Any, ns: str, widget_kind: Any) -> None:
    await client.create(widget("printed", ns, {"replicas": 3, "size": "large"}))
    await client.patch(
        widget_kind, "printed", {"status": {"phase": "Ready"}}, PatchType.MERGE, ns, subresource="status"
    )

    table = await client.table(widget_kind, ns)

    assert table.columns == ["NAME", "REPLICAS", "PHASE", "SIZE", "AGE"]
    row = table.row("printed")
    assert (row["REPLICAS"], row["PHASE"], row["SIZE"]) == ("3", "Ready", "large")


def idle_deployment(name: str, namespace: str) -> dict[str, Any]:
    """Zero replicas: its counts are 0 on every cluster, with or without a deployment controller."""
    obj = deployment(name, namespace)
    obj["spec"]["replicas"] = 0
    return obj


def bound_pod(name: str, namespace: str) -> dict[str, Any]:
    spec = {"nodeName": "conf-node-a", "containers": [{"name": "c", "image": PAUSE}]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("kind", "make", "columns", "cells"),
    [
        (
            POD,
            bound_pod,
            ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"],
            {"READY": "0/1", "NODE": "conf-node-a"},
        ),
        (
            DEPLOYMENT,
            idle_deployment,
            ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"],
            {
                "READY": "0/0",
                "UP-TO-DATE": "0",
                "AVAILABLE": "0",
                "CONTAINERS": "app,sidecar",
                "IMAGES": f"{PAUSE},{PAUSE}",
                "SELECTOR": "app=wide",
            },
        ),
    ],
    ids=["pod", "deployment"],
)
async def test_builtin_wide_tables(
    client: Any,
    ns: str,
    kind: Any,
    make: Callable[[str, str], dict[str, Any]],
    columns: list[str],
    cells: dict[str, str],
) -> None:
    await client.create(make("wide", ns))

    table = await client.table(kind, ns)

    assert table.columns[: len(columns)] == columns
    row = table.row("wide")
    assert {column: row[column] for column in cells} == cells


# ----------------------------------------------------------------------------------------------- kubectl only


IMPERATIVE_CASES = [
    pytest.param(
        ["create", "configmap", "imp", "--from-literal=a=b"],
        CONFIGMAP,
        lambda o: o["data"] == {"a": "b"},
        id="configmap",
    ),
    pytest.param(
        ["create", "secret", "generic", "imp", "--from-literal=a=b"],
        SECRET,
        lambda o: o["data"] == {"a": "Yg=="},
        id="secret",
    ),
    pytest.param(
        ["create", "deployment", "imp", f"--image={PAUSE}", "--replicas=2"],
        DEPLOYMENT,
        lambda o: (
            (o["spec"]["replicas"], o["spec"]["template"]["spec"]["containers"][0]["image"]) == (2, PAUSE)
        ),
        id="deployment",
    ),
    pytest.param(
        ["create", "serviceaccount", "imp"],
        Kind("v1", "ServiceAccount", "serviceaccounts"),
        lambda o: o["metadata"]["name"] == "imp",
        id="serviceaccount",
    ),
]


@pytest.mark.parametrize(("argv", "kind", "holds"), IMPERATIVE_CASES)
async def test_kubectl_imperative_create(
    target: Target,
    ns: str,
    tmp_path_factory: pytest.TempPathFactory,
    argv: list[str],
    kind: Any,
    holds: Callable[[dict[str, Any]], bool],
) -> None:
    """`kubectl create configmap|secret|deployment|serviceaccount ...` build the object in kubectl and send it
    with client-go's typed clientset, whose request body is protobuf (application/vnd.kubernetes.protobuf),
    not JSON; a server that reads only JSON answers 415 to every one of these commands."""
    kubectl = await open_client("kubectl", target.kubeconfig, tmp_path_factory.mktemp("kubectl-imperative"))

    await kubectl.run(*argv, f"--namespace={ns}")

    assert holds(await kubectl.get(kind, "imp", ns))
