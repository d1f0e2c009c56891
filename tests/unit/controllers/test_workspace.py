"""The Workspace controller without sockets: which Workspaces an event wakes, and its write discipline."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from kaito import ctrl
from kaito.api import Workspace
from kaito.controllers.machine import MACHINE, NODE
from kaito.controllers.workspace import (
    CONFIGMAP,
    DEPLOYMENT,
    JOB,
    SERVICE,
    STATEFULSET,
    WORKSPACE,
    WorkspaceControllerOptions,
    WorkspaceReconciler,
    workspaces_for_configmap,
    workspaces_for_machine,
    workspaces_for_node,
)
from kaito.controllers.workspace_metrics import workspace_metrics
from kaito.ctrl.informer import SharedInformerFactory
from kaito.ctrl.testing import FakeClock, MockResponse, MockTransport
from kaito.ctrl.typed_reconciler import TypedPrimary


def ws(name: str, namespace: str = "default", **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": name, "namespace": namespace},
        **fields,
    }


@pytest.fixture
def workspaces() -> ctrl.Store:
    store = ctrl.Store()
    store.upsert(
        ws("byo", resource={"labelSelector": {"matchLabels": {"apps": "phi"}}}, inference={"config": "cfg"})
    )
    store.upsert(
        ws(
            "aks",
            resource={"instanceType": "Standard_NC6s_v3", "labelSelector": {"matchLabels": {"apps": "phi"}}},
        )
    )
    store.upsert(ws("runs-on-n9", resource={"labelSelector": {}}, status={"workerNodes": ["n9"]}))
    store.upsert(
        ws(
            "byo",
            "other",
            inference={"config": "cfg"},
            resource={"labelSelector": {"matchLabels": {"x": "y"}}},
        )
    )
    return store


def test_machines_and_nodes_map_to_their_workspace_by_label() -> None:
    labels = {"kaito.sh/workspace": "phi", "kaito.sh/workspacenamespace": "team"}
    assert workspaces_for_machine({"metadata": {"name": "ws1", "labels": labels}}) == [
        ctrl.Request("team", "phi")
    ]
    assert workspaces_for_machine({"metadata": {"name": "ws1"}}) == []


def test_a_configmap_wakes_the_workspaces_naming_it_in_its_namespace_and_its_owner(
    workspaces: ctrl.Store,
) -> None:
    map_fn = workspaces_for_configmap(workspaces)
    assert map_fn({"metadata": {"name": "cfg", "namespace": "default"}}) == [ctrl.Request("default", "byo")]
    owned = {
        "metadata": {
            "name": "aks-inference-config",
            "namespace": "default",
            "ownerReferences": [
                {
                    "apiVersion": "kaito.sh/v1beta1",
                    "kind": "Workspace",
                    "name": "aks",
                    "uid": "u",
                    "controller": True,
                }
            ],
        }
    }
    assert map_fn(owned) == [ctrl.Request("default", "aks")]


def test_a_node_wakes_byo_workspaces_selecting_it_and_those_running_on_it(workspaces: ctrl.Store) -> None:
    map_fn = workspaces_for_node(workspaces)
    assert map_fn({"metadata": {"name": "n1", "labels": {"apps": "phi"}}}) == [ctrl.Request("default", "byo")]
    assert map_fn({"metadata": {"name": "n9", "labels": {}}}) == [ctrl.Request("default", "runs-on-n9")]
    assert map_fn({"metadata": {"name": "n2", "labels": {"apps": "nothing"}}}) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"recheck_interval": 0}, "recheck_interval is 0"),
        ({"deletion_poll": -1}, "deletion_poll is -1"),
        ({"max_concurrent_reconciles": 0}, "max_concurrent_reconciles is 0"),
    ],
)
def test_options_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkspaceControllerOptions(**options)


class FakeApi:
    """Answers discovery, records every write the reconciler sends (no sockets)."""

    RESOURCES = {
        "/apis/kaito.sh/v1beta1": [
            {"name": "workspaces", "kind": "Workspace", "namespaced": True},
            {"name": "workspaces/status", "kind": "Workspace", "namespaced": True},
            {"name": "machines", "kind": "Machine", "namespaced": False},
        ],
        "/api/v1": [
            {"name": "events", "kind": "Event", "namespaced": True},
            {"name": "nodes", "kind": "Node", "namespaced": False},
            {"name": "configmaps", "kind": "ConfigMap", "namespaced": True},
            {"name": "services", "kind": "Service", "namespaced": True},
        ],
        "/apis/apps/v1": [
            {"name": "deployments", "kind": "Deployment", "namespaced": True},
            {"name": "statefulsets", "kind": "StatefulSet", "namespaced": True},
        ],
        "/apis/batch/v1": [{"name": "jobs", "kind": "Job", "namespaced": True}],
    }

    def __init__(self) -> None:
        self.writes: list[ctrl.HttpRequest] = []

    def __call__(self, request: ctrl.HttpRequest) -> MockResponse:
        if request.method == "GET" and request.path in self.RESOURCES:
            return MockResponse(200, json={"resources": self.RESOURCES[request.path]})
        self.writes.append(request)
        return MockResponse(200, json=request.body if isinstance(request.body, dict) else {})

    def status_patches(self) -> list[dict[str, Any]]:
        return [w.body["status"] for w in self.writes if w.path.endswith("/status")]


def reconciler(api: FakeApi, *workspaces: dict[str, Any]) -> TypedPrimary[Workspace]:
    """The reconciler as its controller runs it: the Workspace parsed from a synced cache."""
    client = ctrl.Client(MockTransport(api))
    clock = FakeClock()
    informers = SharedInformerFactory(client)
    cache = informers.informer_for(WORKSPACE)
    cache.replace(list(workspaces), "1")
    for kind in (MACHINE, NODE, CONFIGMAP, SERVICE, DEPLOYMENT, STATEFULSET, JOB):
        informers.informer_for(kind).replace([], "1")  # synced and empty
    inner = WorkspaceReconciler(
        ctrl.CachedClient(client, informers),
        ctrl.EventRecorder(client, "test", clock=clock),
        clock=clock,
        metrics=workspace_metrics(CollectorRegistry()),
    )
    return TypedPrimary(Workspace, inner, cache.store, on_parse_error=inner.report_unparsable)


def stored(**fields: Any) -> dict[str, Any]:
    meta = {
        "name": "bad",
        "namespace": "default",
        "uid": "u1",
        "generation": 1,
        "resourceVersion": "7",
        "finalizers": ["kaito.sh/workspace-cleanup"],
    }
    return {"apiVersion": "kaito.sh/v1beta1", "kind": "Workspace", "metadata": meta, **fields}


async def test_an_invalid_workspace_gets_one_status_write_and_none_when_nothing_changed() -> None:
    api = FakeApi()
    body = stored(
        resource={"instanceType": "Standard_NC6s_v3", "labelSelector": {"matchLabels": {"a": "b"}}},
        inference={"preset": {"name": "no-such-model-7b"}},
    )
    result = await reconciler(api, body).reconcile(ctrl.Request("default", "bad"))
    assert result == ctrl.Result()
    (status,) = api.status_patches()
    assert status["state"] == "Failed"
    (condition,) = status["conditions"]
    assert condition["reason"] == "InvalidWorkspace"
    assert condition["message"].startswith('inference.preset.name: "no-such-model-7b" is not a supported')
    assert not any(w.path.endswith("/machines") for w in api.writes)  # nothing created

    again = FakeApi()
    await reconciler(again, {**body, "status": status}).reconcile(ctrl.Request("default", "bad"))
    assert again.status_patches() == []
    assert again.writes == []


async def test_a_workspace_that_does_not_parse_is_reported_not_crashed_on() -> None:
    api = FakeApi()
    body = stored(resource={"count": "two", "labelSelector": {}}, inference={"preset": {"name": "x"}})
    await reconciler(api, body).reconcile(ctrl.Request("default", "bad"))
    (status,) = api.status_patches()
    (condition,) = status["conditions"]
    assert (status["state"], condition["reason"]) == ("Failed", "InvalidWorkspace")
    assert "resource.count" in condition["message"]


async def test_the_finalizer_is_added_with_optimistic_concurrency() -> None:
    api = FakeApi()
    body = stored(resource={"labelSelector": {}}, inference={"preset": {"name": "phi-3-mini-4k-instruct"}})
    body["metadata"] = {**body["metadata"], "finalizers": []}
    await reconciler(api, body).reconcile(ctrl.Request("default", "bad"))
    patch = api.writes[0]
    assert patch.headers["Content-Type"] == "application/json-patch+json"
    assert patch.body == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
        {"op": "add", "path": "/metadata/finalizers", "value": ["kaito.sh/workspace-cleanup"]},
    ]
