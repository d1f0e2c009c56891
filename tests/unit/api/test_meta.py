"""Object metadata: lossless parsing, label selection, owner references."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.api.meta import LabelSelector, ListMeta, ObjectMeta, controller_reference

SERVER_METADATA: dict[str, Any] = {
    "name": "ws",
    "namespace": "default",
    "uid": "7b0c5f6e-1111-2222-3333-444455556666",
    "resourceVersion": "42",
    "generation": 3,
    "creationTimestamp": "2024-05-01T12:00:00Z",
    "deletionTimestamp": "2024-05-02T12:00:00Z",
    "deletionGracePeriodSeconds": 0,
    "labels": {"apps": "phi-3"},
    "annotations": {"note": "x"},
    "finalizers": ["kaito.sh/workspace-cleanup"],
    "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u", "controller": True},
    ],
    "managedFields": [{"manager": "kubectl", "operation": "Apply", "fieldsV1": {"f:metadata": {}}}],
}


def test_metadata_from_the_api_server_round_trips() -> None:
    assert ObjectMeta.model_validate(SERVER_METADATA).to_wire() == SERVER_METADATA


@pytest.mark.parametrize(
    ("meta", "key"),
    [(ObjectMeta(name="ws", namespace="team"), "team/ws"), (ObjectMeta(name="m1"), "m1")],
)
def test_key_is_namespace_slash_name(meta: ObjectMeta, key: str) -> None:
    assert meta.key == key


def test_list_meta_continue_token_keeps_its_wire_name() -> None:
    data = {"resourceVersion": "9", "continue": "abc", "remainingItemCount": 3}
    meta = ListMeta.model_validate(data)
    assert meta.continue_ == "abc"
    assert meta.to_wire() == data


SELECTOR = LabelSelector.model_validate(
    {
        "matchLabels": {"apps": "phi-3"},
        "matchExpressions": [
            {"key": "gpu", "operator": "In", "values": ["a100", "h100"]},
            {"key": "spot", "operator": "DoesNotExist"},
        ],
    }
)


@pytest.mark.parametrize(
    ("labels", "selected"),
    [
        ({"apps": "phi-3", "gpu": "a100"}, True),
        ({"apps": "phi-3", "gpu": "h100", "zone": "1"}, True),
        ({"apps": "phi-3", "gpu": "v100"}, False),
        ({"apps": "phi-3"}, False),
        ({"apps": "llama", "gpu": "a100"}, False),
        ({"apps": "phi-3", "gpu": "a100", "spot": "true"}, False),
    ],
)
def test_selector_ands_labels_and_expressions(labels: dict[str, str], selected: bool) -> None:
    assert SELECTOR.matches(labels) is selected


@pytest.mark.parametrize(
    ("operator", "values", "labels", "selected"),
    [
        ("NotIn", ["a"], {}, True),
        ("NotIn", ["a"], {"k": "a"}, False),
        ("NotIn", ["a"], {"k": "b"}, True),
        ("Exists", None, {"k": ""}, True),
        ("Exists", None, {}, False),
    ],
)
def test_selector_operators(
    operator: str, values: list[str] | None, labels: dict[str, str], selected: bool
) -> None:
    selector = LabelSelector.model_validate(
        {"matchExpressions": [{"key": "k", "operator": operator, "values": values}]}
    )
    assert selector.matches(labels) is selected


def test_empty_selector_matches_everything() -> None:
    assert LabelSelector().is_empty
    assert LabelSelector().matches({"any": "thing"})
    assert not SELECTOR.is_empty


def test_controller_reference_points_at_the_owner() -> None:
    ref = controller_reference(
        "kaito.sh/v1beta1", "Workspace", ObjectMeta(name="ws", namespace="d", uid="u1")
    )
    assert ref.to_wire() == {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "name": "ws",
        "uid": "u1",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_controller_reference_needs_a_stored_owner() -> None:
    with pytest.raises(ValueError, match="no name or uid"):
        controller_reference("kaito.sh/v1beta1", "Workspace", ObjectMeta(name="ws"))
