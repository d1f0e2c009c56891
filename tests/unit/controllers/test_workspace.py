"""The Workspace controller's wiring: which Workspaces an event on a Machine, ConfigMap or Node wakes."""

from __future__ import annotations

from typing import Any

import pytest

from kaito import ctrl
from kaito.controllers.workspace import (
    WorkspaceControllerOptions,
    _workspaces_for_node,
    workspaces_for_configmap,
    workspaces_for_machine,
)


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
    map_fn = _workspaces_for_node(workspaces)
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
