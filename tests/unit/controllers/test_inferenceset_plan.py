"""The InferenceSet plan: which Workspaces, which status, which ScaledObject."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kaito.api import InferenceSet, parse_object
from kaito.controllers.inferenceset_plan import (
    plan_inferenceset,
    render_scaled_object,
    render_workspace,
    workspace_index,
)
from kaito.controllers.workspace_status import Failure, Observed, desired_status

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _set(
    replicas: int | None = 2, limit: int | None = None, annotations: dict[str, str] | None = None
) -> InferenceSet:
    spec: dict[str, Any] = {
        "labelSelector": {"matchLabels": {"apps": "s"}},
        "template": {
            "resource": {"instanceType": "Standard_NC6s_v3"},
            "inference": {"preset": {"name": "phi-4-mini-instruct"}},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    if limit is not None:
        spec["nodeCountLimit"] = limit
    meta: dict[str, Any] = {"name": "s", "namespace": "ns", "uid": "u-1", "generation": 1}
    if annotations:
        meta["annotations"] = annotations
    return parse_object(
        InferenceSet,
        {"apiVersion": "kaito.sh/v1alpha1", "kind": "InferenceSet", "metadata": meta, "spec": spec},
    )


def _ready_workspace(iset: InferenceSet, index: int, nodes: int = 1) -> dict[str, Any]:
    workspace = render_workspace(iset, index)
    workspace["status"] = {
        "targetNodeCount": nodes,
        "conditions": [{"type": "InferenceReady", "status": "True"}],
    }
    return workspace


def test_a_workspace_carries_the_template_the_selector_labels_and_an_owner_reference() -> None:
    workspace = render_workspace(_set(), 1)
    assert workspace["metadata"]["name"] == "s-1"
    assert workspace["metadata"]["labels"]["apps"] == "s"
    assert workspace["resource"] == {
        "instanceType": "Standard_NC6s_v3",
        "labelSelector": {"matchLabels": {"apps": "s"}},
    }
    assert workspace["inference"] == {"preset": {"name": "phi-4-mini-instruct"}}
    (owner,) = workspace["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("InferenceSet", "u-1", True)


@pytest.mark.parametrize(
    ("replicas", "have", "create", "delete"),
    [
        (None, [], ["s-0"], []),  # replicas defaults to 1
        (3, [0], ["s-1", "s-2"], []),
        (1, [0, 1, 2], [], ["s-1", "s-2"]),  # the highest indexes go first
        (0, [0], [], ["s-0"]),
    ],
)
def test_scaling_creates_and_deletes_by_index(
    replicas: int | None, have: list[int], create: list[str], delete: list[str]
) -> None:
    iset = _set(replicas)
    plan = plan_inferenceset(iset, [_ready_workspace(iset, i) for i in have], NOW)
    assert [w["metadata"]["name"] for w in plan.create] == create
    assert sorted(plan.delete) == delete
    assert plan.status.selector == "apps=s,inferenceset.kaito.sh/created-by=s"


def test_status_counts_ready_replicas() -> None:
    iset = _set(2)
    not_ready = render_workspace(iset, 1)
    plan = plan_inferenceset(iset, [_ready_workspace(iset, 0), not_ready], NOW)
    assert (plan.status.replicas, plan.status.ready_replicas) == (2, 1)


def test_a_template_change_updates_the_workspaces() -> None:
    iset = _set(1)
    old = _ready_workspace(iset, 0)
    old["inference"] = {"preset": {"name": "phi-3-mini-4k-instruct"}}
    plan = plan_inferenceset(iset, [old], NOW)
    assert [w["metadata"]["name"] for w in plan.update] == ["s-0"]


def test_node_count_limit_caps_replicas_by_the_nodes_each_needs_with_a_sentence() -> None:
    iset = _set(3, limit=4)
    plan = plan_inferenceset(iset, [_ready_workspace(iset, 0, nodes=2)], NOW)
    assert plan.allowed_replicas == 2
    limited = next(c for c in plan.status.conditions or [] if c.type == "ReplicasLimited")
    assert limited.status == "True"
    assert limited.message.startswith("spec.nodeCountLimit: 3 replica(s) of 2 GPU node(s) each need 6 nodes")


def test_kaitos_keda_annotations_render_a_scaled_object_targeting_the_set() -> None:
    annotations = {
        "scaledobject.kaito.sh/auto-provision": "true",
        "scaledobject.kaito.sh/metricName": "vllm:num_requests_waiting",
        "scaledobject.kaito.sh/threshold": "10",
        "scaledobject.kaito.sh/max-replicas": "5",
    }
    scaled = render_scaled_object(_set(2, annotations=annotations))
    assert scaled is not None
    assert scaled["spec"]["scaleTargetRef"] == {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "InferenceSet",
        "name": "s",
    }
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (1, 5)
    trigger = scaled["spec"]["triggers"][0]["metadata"]
    assert (trigger["metricName"], trigger["threshold"]) == ("vllm:num_requests_waiting", "10")
    assert render_scaled_object(_set(2)) is None


def test_workspace_index_reads_only_the_sets_names() -> None:
    assert workspace_index("s", "s-12") == 12
    assert workspace_index("s", "s-x") is None
    assert workspace_index("s", "other-1") is None


def _workspace_saying(iset: InferenceSet, index: int, observed: Observed) -> dict[str, Any]:
    """A Workspace whose status is what the Workspace controller writes for `observed`."""
    workspace = render_workspace(iset, index)
    workspace["status"] = desired_status(None, observed, NOW).to_wire()
    return workspace


_SECRET_MISSING = Failure(
    "ModelAccessSecretNotFound",
    "inference.preset.presetOptions.modelAccessSecret: Secret 'hf-token' does not exist in namespace 'ns'.",
    permanent=False,
)


@pytest.mark.parametrize(
    ("observed", "reason", "says"),
    [
        (
            None,
            "ReplicasNotReady",
            "1 of 2 Workspace(s) have inference ready. Workspace s-1 is not created yet.",
        ),
        (
            Observed(generation=1, target_nodes=1, nodes_message="0 of 1 node(s) ready"),
            "ReplicasNotReady",
            "Workspace s-1: 0 of 1 node(s) ready",
        ),
        (
            Observed(generation=1, plan_failure=_SECRET_MISSING),
            "ModelAccessSecretNotFound",
            "Workspace s-1: inference.preset.presetOptions.modelAccessSecret: Secret 'hf-token'",
        ),
        (
            Observed(
                generation=1, plan_failure=Failure("SizingRefused", "resource.instanceType: too small.")
            ),
            "SizingRefused",
            "Workspace s-1: resource.instanceType: too small.",
        ),
    ],
)
def test_replicas_ready_names_the_first_workspace_not_ready_and_its_problem(
    observed: Observed | None, reason: str, says: str
) -> None:
    """A user reading the set (or the MultiRoleInference above it) sees why, in the Workspace's words."""
    iset = _set(replicas=2)
    workspaces = [_ready_workspace(iset, 0)]
    if observed is not None:
        workspaces.append(_workspace_saying(iset, 1, observed))
    status = plan_inferenceset(iset, workspaces, NOW).status
    condition = next(c for c in status.conditions or [] if c.type == "ReplicasReady")
    assert (condition.status, condition.reason) == ("False", reason)
    assert condition.message.startswith("1 of 2 Workspace(s) have inference ready. ")
    assert says in condition.message


def test_replicas_ready_is_true_with_every_workspace_serving() -> None:
    iset = _set(replicas=2)
    status = plan_inferenceset(iset, [_ready_workspace(iset, 0), _ready_workspace(iset, 1)], NOW).status
    condition = next(c for c in status.conditions or [] if c.type == "ReplicasReady")
    assert (condition.status, condition.reason, condition.message) == (
        "True",
        "AllReplicasReady",
        "2 of 2 Workspace(s) have inference ready.",
    )
