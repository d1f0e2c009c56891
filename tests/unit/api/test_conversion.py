"""Workspace conversion v1alpha1 <-> v1beta1: lossless both ways, every field including status."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kaito.api import (
    CONVERSION_ANNOTATION,
    ConversionError,
    V1Alpha1Workspace,
    Workspace,
    convert_workspace,
    to_v1alpha1,
    to_v1beta1,
)

CONDITION = {
    "type": "WorkspaceSucceeded",
    "status": "True",
    "reason": "WorkspaceSucceeded",
    "message": "ready",
    "lastTransitionTime": "2024-05-01T12:00:00Z",
    "observedGeneration": 2,
}
INFERENCE_V1BETA1: dict[str, Any] = {
    "apiVersion": "kaito.sh/v1beta1",
    "kind": "Workspace",
    "metadata": {"name": "ws", "namespace": "default", "annotations": {"team": "a"}, "labels": {"x": "y"}},
    "resource": {
        "count": 2,
        "instanceType": "Standard_NC12s_v3",
        "labelSelector": {"matchLabels": {"apps": "phi-3"}},
        "preferredNodes": ["n1"],
    },
    "inference": {
        "preset": {
            "name": "phi-3-mini-4k-instruct",
            "accessMode": "private",
            "presetOptions": {"image": "r.io/m:1", "imagePullSecrets": ["s"], "modelAccessSecret": "hf"},
        },
        "config": "cm",
        "adapters": [{"source": {"name": "a", "image": "r.io/a:1"}, "strength": "0.5"}],
    },
    "status": {
        "workerNodes": ["n1", "n2"],
        "state": "Ready",
        "conditions": [CONDITION],
        "targetNodeCount": 2,
    },
}
TUNING_V1BETA1: dict[str, Any] = {
    "apiVersion": "kaito.sh/v1beta1",
    "kind": "Workspace",
    "metadata": {"name": "tune"},
    "resource": {"instanceType": "Standard_NC6s_v3", "labelSelector": {"matchLabels": {"a": "b"}}},
    "tuning": {
        "preset": {"name": "phi-3-mini-4k-instruct", "presetOptions": {"modelAccessSecret": "hf"}},
        "method": "qlora",
        "config": "tc",
        "input": {"urls": ["https://example.com/d.parquet"]},
        "output": {"image": "r.io/o:1", "imagePushSecret": "push"},
    },
    "status": {"state": "Running"},
}


@pytest.mark.parametrize("obj", [INFERENCE_V1BETA1, TUNING_V1BETA1], ids=["inference", "tuning"])
def test_v1beta1_round_trips_through_v1alpha1_unchanged(obj: dict[str, Any]) -> None:
    alpha = to_v1alpha1(obj)
    assert alpha["apiVersion"] == "kaito.sh/v1alpha1"
    V1Alpha1Workspace.from_wire(alpha)  # a valid v1alpha1 object: nothing v1alpha1 lacks is left in it
    assert to_v1beta1(alpha) == obj
    Workspace.from_wire(to_v1beta1(alpha))


def test_v1beta1_only_fields_travel_in_the_annotation() -> None:
    alpha = to_v1alpha1(INFERENCE_V1BETA1)
    assert "modelAccessSecret" not in alpha["inference"]["preset"]["presetOptions"]
    assert alpha["status"] == {"workerNodes": ["n1", "n2"], "conditions": [CONDITION]}
    assert alpha["metadata"]["annotations"]["team"] == "a"
    assert CONVERSION_ANNOTATION in alpha["metadata"]["annotations"]
    tuning = to_v1alpha1(TUNING_V1BETA1)
    assert "presetOptions" not in tuning["tuning"]["preset"]  # emptied by the move, not left as {}
    assert "status" not in tuning or tuning["status"] == {}


def test_seed_v1alpha1_round_trips_through_v1beta1_unchanged() -> None:
    seed = {
        "apiVersion": "kaito.sh/v1alpha1",
        "kind": "Workspace",
        "metadata": {"name": "workspace-phi-3-mini"},
        "resource": {"instanceType": "Standard_NC6s_v3", "labelSelector": {"matchLabels": {"apps": "phi-3"}}},
        "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}},
    }
    beta = to_v1beta1(seed)
    assert beta == dict(copy.deepcopy(seed), apiVersion="kaito.sh/v1beta1")
    assert to_v1alpha1(beta) == seed


def test_same_version_is_a_copy_and_unknown_versions_are_refused() -> None:
    assert convert_workspace(INFERENCE_V1BETA1, "kaito.sh/v1beta1") == INFERENCE_V1BETA1
    with pytest.raises(ConversionError, match=r"desiredAPIVersion: 'kaito\.sh/v2' is not served"):
        convert_workspace(INFERENCE_V1BETA1, "kaito.sh/v2")
    with pytest.raises(ConversionError, match="kind: 'Machine' cannot be converted"):
        convert_workspace(dict(INFERENCE_V1BETA1, kind="Machine"), "kaito.sh/v1alpha1")


def test_a_tampered_annotation_is_refused_naming_it() -> None:
    alpha = to_v1alpha1(INFERENCE_V1BETA1)
    alpha["metadata"]["annotations"][CONVERSION_ANNOTATION] = '{"spec.evil": 1}'
    with pytest.raises(ConversionError, match=r"metadata.annotations\[kaito.sh/conversion-data\]"):
        to_v1beta1(alpha)
