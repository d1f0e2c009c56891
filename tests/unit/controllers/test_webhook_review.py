"""The admission webhook's answers: KAITO's create checks and update rules, worded as kube words them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kaito.controllers.webhook_review import create_errors, render_errors, review_workspace, update_errors


def workspace(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "ws", "namespace": "default"},
        "resource": {"instanceType": "Standard_NC6s_v3", "labelSelector": {"matchLabels": {"apps": "phi-3"}}},
        "inference": {"preset": {"name": "phi-3-mini-4k-instruct"}},
    }
    obj.update(changes)
    return obj


def gpu_less_node(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


@pytest.mark.parametrize(
    ("obj", "nodes", "expected"),
    [
        (workspace(), [], ""),
        (
            workspace(inference={"preset": {"name": "no-such-model"}}),
            [],
            'inference.preset.name: Invalid value: "no-such-model" is not a supported inference preset; '
            "supported presets: deepseek-r1-0528, deepseek-r1-distill-llama-8b",
        ),
        (
            workspace(
                resource={"instanceType": "Standard_XYZ", "labelSelector": {"matchLabels": {"a": "b"}}}
            ),
            [],
            "resource.instanceType: Invalid value: "
            "Instance type 'Standard_XYZ' is not in the GPU SKU catalog",
        ),
        (
            workspace(inference={"preset": {"name": "falcon-40b-instruct"}}),
            [],
            "resource.instanceType: Invalid value: falcon-40b-instruct needs ≥ 83 GiB of GPU memory; "
            "Standard_NC6s_v3 has 16 GiB per node",
        ),
        (
            workspace(
                metadata={"name": "ws", "annotations": {"kaito.sh/bypass-resource-checks": ""}},
                inference={"preset": {"name": "falcon-40b-instruct"}},
            ),
            [],
            "",
        ),
        (workspace(resource={"labelSelector": {"matchLabels": {"apps": "byo"}}}), [], ""),
        (
            workspace(resource={"labelSelector": {"matchLabels": {"apps": "byo"}}}),
            [gpu_less_node("n1", {"apps": "byo"})],
            "resource.labelSelector: Invalid value: Node n1 has no nvidia.com/gpu.product label",
        ),
        (
            workspace(metadata={"name": "Not_A_Label"}),
            [],
            'metadata.name: Invalid value: "Not_A_Label"',
        ),
    ],
    ids=[
        "seed",
        "unknown-preset",
        "unknown-sku",
        "does-not-fit",
        "bypass-skips-fit",
        "byo-none-yet",
        "byo-no-gpu-labels",
        "bad-name",
    ],
)
def test_create_refusals_name_the_field(
    obj: dict[str, Any], nodes: list[dict[str, Any]], expected: str
) -> None:
    text = render_errors(create_errors(obj, nodes)) if create_errors(obj, nodes) else ""
    if expected:
        assert text.startswith(expected), text
    else:
        assert text == ""


def test_bypass_does_not_admit_an_unknown_preset() -> None:
    obj = workspace(
        metadata={"name": "ws", "annotations": {"kaito.sh/bypass-resource-checks": "True"}},
        inference={"preset": {"name": "no-such-model"}},
    )
    assert create_errors(obj)[0].path == "inference.preset.name"


def _changed(path: tuple[str, ...], value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    obj = copy.deepcopy(base or workspace())
    node = obj
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return obj


TUNING = workspace(
    inference=None,
    tuning={
        "preset": {"name": "phi-3-mini-4k-instruct"},
        "method": "qlora",
        "input": {"name": "data", "urls": ["https://example.com/d.parquet"]},
        "output": {"image": "r.io/o:1", "imagePushSecret": "s"},
    },
)
del TUNING["inference"]


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        (_changed(("resource", "count"), 1), _changed(("resource", "count"), 2), "resource.count"),
        (workspace(), _changed(("resource", "instanceType"), "Standard_NC12s_v3"), "resource.instanceType"),
        (
            workspace(),
            _changed(("resource", "labelSelector"), {"matchLabels": {"x": "y"}}),
            "resource.labelSelector",
        ),
        (workspace(), _changed(("resource", "partition"), "a"), "resource.partition"),
        (workspace(), _changed(("inference", "preset", "name"), "phi-4"), "inference.preset"),
        (TUNING, _changed(("tuning", "preset", "name"), "phi-4", TUNING), "tuning.preset"),
        (TUNING, _changed(("tuning", "method"), "lora", TUNING), "tuning.method"),
        (TUNING, _changed(("tuning", "input", "name"), "other", TUNING), "tuning.input.name"),
        (workspace(), TUNING, "inference"),
    ],
    ids=[
        "count",
        "instanceType",
        "labelSelector",
        "partition",
        "preset",
        "tuning-preset",
        "method",
        "input",
        "toggle",
    ],
)
def test_update_rules_refuse_kaitos_immutable_fields(
    old: dict[str, Any], new: dict[str, Any], path: str
) -> None:
    errors = update_errors(old, new)
    assert errors and errors[0].path == path
    assert str(errors[0]).startswith(f"{path}: Forbidden: ")


@pytest.mark.parametrize(
    "new",
    [
        _changed(("metadata", "annotations"), {"a": "b"}),
        _changed(("metadata", "finalizers"), ["workspace.finalizer.kaito.sh"]),
        _changed(("status",), {"state": "Ready"}),
        _changed(("inference", "adapters"), [{"source": {"name": "a", "image": "r.io/a:1"}}]),
        _changed(
            ("resource", "labelSelector"),
            {"matchExpressions": [{"key": "apps", "operator": "In", "values": ["phi-3"]}]},
        ),
        _changed(("resource", "count"), 3),  # count unset before: KAITO compares only when both are set
    ],
    ids=["annotations", "finalizers", "status", "adapters", "same-selector-as-expression", "count-newly-set"],
)
def test_updates_that_keep_the_immutable_fields_pass(new: dict[str, Any]) -> None:
    assert update_errors(workspace(), new) == []


def test_review_answers_with_the_request_uid_and_kube_wording() -> None:
    review = {
        "request": {
            "uid": "u-1",
            "operation": "UPDATE",
            "object": _changed(("resource", "instanceType"), "Standard_NC12s_v3"),
            "oldObject": workspace(),
        }
    }
    answer = review_workspace(review)
    assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert (response["uid"], response["allowed"]) == ("u-1", False)
    assert response["status"]["message"].startswith(
        "resource.instanceType: Forbidden: field is immutable: "
        '"Standard_NC6s_v3" cannot become "Standard_NC12s_v3"'
    )
    allowed = review_workspace({"request": {"uid": "u-2", "operation": "CREATE", "object": workspace()}})
    assert allowed["response"] == {"uid": "u-2", "allowed": True}


def test_several_errors_are_joined_as_kube_aggregates_them() -> None:
    new = _changed(("resource", "instanceType"), "Standard_NC12s_v3")
    new["resource"]["count"] = 2
    old = _changed(("resource", "count"), 1)
    text = render_errors(update_errors(old, new))
    assert text.startswith("[resource.count: Forbidden: field is immutable") and text.endswith("]")
    assert ", resource.instanceType: Forbidden:" in text


@pytest.mark.parametrize(
    ("changes", "admitted"),
    [
        ({"inference": {"preset": {"name": "meta-llama/Llama-3.2-1B"}}}, True),  # sized from the hub
        ({"inference": {"preset": {"name": "not-a-preset"}}}, False),  # neither the catalog nor org/model
        (
            {"resource": {"instanceType": "Standard_NCC40ads_H100_v5", "labelSelector": {"matchLabels": {}}}},
            True,  # an unlisted N-series size: the controller reads its GPUs from the resource SKUs
        ),
        ({"resource": {"instanceType": "Standard_D4s_v5", "labelSelector": {"matchLabels": {}}}}, False),
    ],
)
def test_what_only_the_controller_can_size_is_left_to_it(changes: dict[str, Any], admitted: bool) -> None:
    assert (create_errors(workspace(**changes)) == []) is admitted
