"""The scale subresource's pure functions: a Scale read from an object, and the patch that writes it back."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.server.errors import BadRequest
from kaito.sim.server.scale import ScalePaths, apply_to_scale, replicas_patch, scale_of

DEPLOYMENT: dict[str, Any] = {
    "metadata": {"name": "d", "namespace": "ns", "uid": "u", "labels": {"x": "y"}},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"b": "2", "a": "1"}}},
    "status": {"replicas": 2},
}


def test_a_workloads_scale_carries_replicas_and_the_selector_as_a_string() -> None:
    scale = scale_of(DEPLOYMENT, ScalePaths())
    assert scale["metadata"] == {"name": "d", "namespace": "ns", "uid": "u"}
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 2, "selector": "a=1,b=2"}


def test_a_crds_paths_are_read_and_an_unset_count_has_kubes_defaults() -> None:
    paths = ScalePaths.from_crd({"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.ready"})
    assert paths.label_selector == ""
    scale = scale_of({"metadata": {"name": "w"}, "spec": {}}, paths)
    assert scale["spec"] == {"replicas": 1} and scale["status"] == {"replicas": 0}
    assert replicas_patch(paths, {"spec": {"replicas": 5}}) == {"spec": {"size": 5}}


@pytest.mark.parametrize(
    ("patch", "patch_type", "replicas"),
    [
        ({"spec": {"replicas": 7}}, "application/merge-patch+json", 7),
        ([{"op": "replace", "path": "/spec/replicas", "value": 0}], "application/json-patch+json", 0),
    ],
)
def test_patches_apply_to_the_scale(patch: Any, patch_type: str, replicas: int) -> None:
    patched = apply_to_scale(scale_of(DEPLOYMENT, ScalePaths()), patch, patch_type)
    assert patched["spec"]["replicas"] == replicas


@pytest.mark.parametrize("replicas", [-1, 1.5, True, None, "3"])
def test_a_scale_without_a_whole_replica_count_is_refused_by_naming_the_field(replicas: Any) -> None:
    with pytest.raises(BadRequest, match=r"spec\.replicas is .*whole number of replicas, 0 or more"):
        replicas_patch(ScalePaths(), {"spec": {"replicas": replicas}})


def test_a_json_patch_that_cannot_apply_says_so() -> None:
    with pytest.raises(BadRequest, match="cannot be applied to the Scale"):
        apply_to_scale(
            {"spec": {}}, [{"op": "remove", "path": "/spec/missing"}], "application/json-patch+json"
        )
