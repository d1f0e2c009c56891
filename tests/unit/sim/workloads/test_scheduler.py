"""Tests of the pure scheduling decisions: quantities, predicates, scoring and kube's FitError message."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from kaito.sim.workloads.scheduler import (
    NO_NODES_MESSAGE,
    bound_usage,
    candidate_nodes,
    filter_node,
    fit_error_message,
    node_matches_affinity,
    parse_quantity,
    pod_requests,
    schedule,
    tolerates,
)

GPU_TAINT = {"key": "sku", "value": "gpu", "effect": "NoSchedule"}
GPU_TOLERATION = {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
TAINTED = "node(s) had untolerated taint {sku: gpu}"
NOT_READY = "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
UNREACHABLE = "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"
AFFINITY = "node(s) didn't match Pod's node affinity/selector"
GPU = {"nvidia.com/gpu": "1"}
TWO_GPUS = {"nvidia.com/gpu": "2"}
NO_GPU = ["Insufficient nvidia.com/gpu"]


def make_node(
    name: str,
    *,
    gpus: int = 0,
    cpu: str = "8",
    memory: str = "32Gi",
    pods: str | None = "110",
    labels: dict[str, str] | None = None,
    taints: list[dict[str, Any]] | None = None,
    ready: str = "True",
    unschedulable: bool = False,
) -> dict[str, Any]:
    allocatable = {"cpu": cpu, "memory": memory}
    if pods is not None:
        allocatable["pods"] = pods
    if gpus:
        allocatable["nvidia.com/gpu"] = str(gpus)
    spec: dict[str, Any] = {"taints": taints or []}
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {"allocatable": allocatable, "conditions": [{"type": "Ready", "status": ready}]},
    }


def make_pod(
    *,
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    node_selector: dict[str, str] | None = None,
    tolerations: list[dict[str, Any]] | None = None,
    affinity_terms: list[dict[str, Any]] | None = None,
    node_name: str = "",
    phase: str = "Pending",
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x", "resources": resources}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    if affinity_terms is not None:
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": affinity_terms}
            }
        }
    if node_name:
        spec["nodeName"] = node_name
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": spec, "status": {"phase": phase}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100m", Decimal("0.1")),
        ("2", Decimal(2)),
        ("1Gi", Decimal(2**30)),
        ("512Mi", Decimal(512 * 2**20)),
        ("500M", Decimal(500_000_000)),
        ("1e3", Decimal(1000)),
        ("1.5", Decimal("1.5")),
        (4, Decimal(4)),
    ],
)
def test_parse_quantity(text: str | int, expected: Decimal) -> None:
    assert parse_quantity(text) == expected


def test_parse_quantity_rejects_garbage_with_the_value_named() -> None:
    with pytest.raises(ValueError, match="'lots'"):
        parse_quantity("lots")


def test_pod_requests_default_from_limits_and_take_the_largest_init_container() -> None:
    pod = make_pod(requests={"cpu": "500m"}, limits={"nvidia.com/gpu": "2", "cpu": "1"})
    pod["spec"]["containers"].append({"name": "d", "resources": {"requests": {"cpu": "250m"}}})
    pod["spec"]["initContainers"] = [{"name": "i", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}}]
    assert pod_requests(pod) == {
        "cpu": Decimal(2),
        "memory": Decimal(2**30),
        "nvidia.com/gpu": Decimal(2),
        "pods": Decimal(1),
    }


@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        ({"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}, GPU_TAINT, True),
        ({"key": "sku", "value": "gpu"}, GPU_TAINT, True),
        ({"key": "sku", "operator": "Equal", "value": "cpu"}, GPU_TAINT, False),
        ({"key": "sku", "operator": "Exists"}, GPU_TAINT, True),
        ({"key": "sku", "operator": "Exists", "effect": "NoExecute"}, GPU_TAINT, False),
        ({"operator": "Exists"}, GPU_TAINT, True),
        ({"key": "other", "operator": "Exists"}, GPU_TAINT, False),
        ({"key": "k", "operator": "Equal", "value": ""}, {"key": "k", "effect": "NoExecute"}, True),
    ],
)
def test_tolerates(toleration: dict[str, Any], taint: dict[str, Any], expected: bool) -> None:
    assert tolerates(toleration, taint) is expected


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        ([expr("pool", "In", "gpu", "a100")], True),
        ([expr("pool", "In", "cpu")], False),
        ([expr("pool", "NotIn", "cpu")], True),
        ([expr("missing", "NotIn", "x")], True),
        ([expr("pool", "Exists")], True),
        ([expr("pool", "DoesNotExist")], False),
        ([expr("gpus", "Gt", "3")], True),
        ([expr("gpus", "Gt", "4")], False),
        ([expr("gpus", "Lt", "5")], True),
        ([expr("pool", "Gt", "1")], False),
        ([expr("pool", "In", "cpu"), expr("pool", "In", "gpu")], True),
        ([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}], True),
        ([{"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}]}], False),
        ([{}], False),
        ([], False),
    ],
)
def test_required_node_affinity(terms: list[dict[str, Any]], expected: bool) -> None:
    node = make_node("n1", labels={"pool": "gpu", "gpus": "4"})
    assert node_matches_affinity(make_pod(affinity_terms=terms), node) is expected


def test_node_selector_needs_every_label() -> None:
    node = make_node("n1", labels={"pool": "gpu"})
    assert node_matches_affinity(make_pod(node_selector={"pool": "gpu"}), node)
    assert not node_matches_affinity(make_pod(node_selector={"pool": "gpu", "zone": "1"}), node)


@pytest.mark.parametrize(
    ("pod", "node", "used", "reasons"),
    [
        (make_pod(), make_node("n"), {}, []),
        (make_pod(), make_node("n", unschedulable=True), {}, ["node(s) were unschedulable"]),
        (
            make_pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}]),
            make_node("n", unschedulable=True),
            {},
            [],
        ),
        (make_pod(), make_node("n", taints=[GPU_TAINT]), {}, [TAINTED]),
        (make_pod(tolerations=[GPU_TOLERATION]), make_node("n", taints=[GPU_TAINT]), {}, []),
        (make_pod(), make_node("n", taints=[{"key": "soft", "effect": "PreferNoSchedule"}]), {}, []),
        (make_pod(), make_node("n", ready="False"), {}, [NOT_READY]),
        (make_pod(), make_node("n", ready="Unknown"), {}, [UNREACHABLE]),
        (make_pod(node_selector={"pool": "gpu"}), make_node("n"), {}, [AFFINITY]),
        (make_pod(limits=GPU), make_node("n"), {}, NO_GPU),
        (make_pod(limits=TWO_GPUS), make_node("n", gpus=2), {}, []),
        (make_pod(limits=TWO_GPUS), make_node("n", gpus=2), {"nvidia.com/gpu": Decimal(1)}, NO_GPU),
        (
            make_pod(requests={"cpu": "9", "memory": "64Gi"}),
            make_node("n"),
            {},
            ["Insufficient cpu", "Insufficient memory"],
        ),
        (make_pod(), make_node("n", pods="1"), {"pods": Decimal(1)}, ["Too many pods"]),
        (make_pod(), make_node("n", pods=None), {"pods": Decimal(109)}, []),
        # The first failing plugin wins: a tainted node never reports its resources.
        (make_pod(limits=GPU), make_node("n", taints=[GPU_TAINT]), {}, [TAINTED]),
    ],
)  # fmt: skip
def test_filter_node(
    pod: dict[str, Any], node: dict[str, Any], used: dict[str, Decimal], reasons: list[str]
) -> None:
    assert filter_node(pod, node, used) == reasons


def test_bound_usage_counts_only_live_bound_pods() -> None:
    pods = [
        make_pod(limits={"nvidia.com/gpu": "1"}, node_name="a", phase="Running"),
        make_pod(limits={"nvidia.com/gpu": "1"}, node_name="a", phase="Pending"),
        make_pod(limits={"nvidia.com/gpu": "1"}, node_name="a", phase="Succeeded"),
        make_pod(limits={"nvidia.com/gpu": "1"}, node_name="", phase="Pending"),
    ]
    assert bound_usage(pods) == {"a": {"nvidia.com/gpu": Decimal(2), "pods": Decimal(2)}}


def test_fit_error_message_is_kubes_sorted_histogram() -> None:
    reasons = Counter({"node(s) had untolerated taint {sku: gpu}": 2, "Insufficient nvidia.com/gpu": 1})
    assert fit_error_message(3, reasons) == (
        "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) had untolerated taint {sku: gpu}."
    )
    assert fit_error_message(0, Counter()) == NO_NODES_MESSAGE


def test_schedule_explains_every_node() -> None:
    nodes = [
        make_node("cpu-1"),
        make_node("gpu-1", gpus=1, taints=[GPU_TAINT]),
        make_node("gpu-2", gpus=1, taints=[GPU_TAINT]),
    ]
    result = schedule(make_pod(limits={"nvidia.com/gpu": "1"}), nodes, {})
    assert result.node_name is None
    assert result.message == (
        "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) had untolerated taint {sku: gpu}."
    )
    tolerant = make_pod(limits={"nvidia.com/gpu": "1"}, tolerations=[{"key": "sku", "operator": "Exists"}])
    assert schedule(tolerant, nodes, {"gpu-1": {"nvidia.com/gpu": Decimal(1)}}).node_name == "gpu-2"


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({}, "a"),  # equal scores: smallest name
        ({"a": {"cpu": Decimal(4)}}, "b"),  # least allocated wins
        ({"b": {"memory": Decimal(16 * 2**30)}}, "a"),
    ],
)
def test_schedule_prefers_least_allocated_then_name(
    usage: dict[str, dict[str, Decimal]], expected: str
) -> None:
    nodes = [make_node("b"), make_node("a")]
    assert schedule(make_pod(requests={"cpu": "1"}), nodes, usage).node_name == expected


GPU_LABEL = {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}


def _names(*values: str, operator: str = "In") -> dict[str, Any]:
    return {"key": "metadata.name", "operator": operator, "values": list(values)}


@pytest.mark.parametrize(
    ("terms", "expected"),
    [
        (None, None),  # no affinity: any node
        ([], None),
        ([{"matchFields": [_names("a", "b")]}], {"a", "b"}),
        ([{"matchFields": [_names("a")]}, {"matchFields": [_names("c")]}], {"a", "c"}),  # terms are ORed
        # a term that pins no names can match any node, so the pod is not pinned
        ([{"matchFields": [_names("a")]}, GPU_LABEL], None),
        ([{"matchFields": [_names("a", operator="NotIn")]}], None),
        ([{"matchFields": [_names("a")], **GPU_LABEL}], {"a"}),
    ],
)  # fmt: skip
def test_candidate_nodes_are_the_names_required_affinity_pins(
    terms: list[dict[str, Any]] | None, expected: set[str] | None
) -> None:
    assert candidate_nodes(make_pod(affinity_terms=terms)) == expected


def test_a_pinned_pod_fits_no_node_outside_its_candidates() -> None:
    nodes = [make_node(name) for name in ("a", "b", "c")]
    pod = make_pod(affinity_terms=[{"matchFields": [_names("b", "z")]}])
    candidates = candidate_nodes(pod)
    assert candidates is not None
    for node in nodes:
        fits = not filter_node(pod, node)
        assert fits == (node["metadata"]["name"] in candidates)
