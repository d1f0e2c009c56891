"""Agent pool lifecycle in fake time: operations, provisioningState, Nodes in the store, fault knobs."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.cloud.arm.clock import ManualClock
from kaito.sim.cloud.arm.errors import ArmError
from kaito.sim.cloud.arm.faults import ArmFaults
from kaito.sim.cloud.arm.models import ClusterIds
from kaito.sim.cloud.arm.pools import AgentPoolService
from kaito.sim.server.store import Store

IDS = ClusterIds("sub-1", "rg", "aks", "eastus")
GPU = "Standard_NC24ads_A100_v4"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def service(store: Store, clock: ManualClock) -> AgentPoolService:
    return AgentPoolService(
        store,
        IDS,
        faults=ArmFaults(),
        clock=clock,
        provisioning_s=2.0,
        deletion_s=1.0,
        node_ready_after_s=3.0,
    )


def _body(vm_size: str = GPU, **properties: Any) -> dict[str, Any]:
    return {"properties": {"vmSize": vm_size, "count": 1, "mode": "User", **properties}}


def _nodes(store: Store) -> dict[str, dict[str, Any]]:
    items, _ = store.list("v1", "Node")
    return {node["metadata"]["name"]: node for node in items}


def _ready(node: dict[str, Any]) -> str:
    return next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready")


def test_create_goes_creating_then_succeeded_with_nodes_that_turn_ready(
    service: AgentPoolService, store: Store, clock: ManualClock
) -> None:
    status, body, op = service.put("gpu", _body(nodeTaints=["sku=gpu:NoSchedule"], nodeLabels={"a": "b"}))
    assert (status, body["properties"]["provisioningState"], op.status) == (201, "Creating", "InProgress")
    assert _nodes(store) == {}

    clock.advance(2.0)
    assert service.get("gpu")["properties"]["provisioningState"] == "Succeeded"
    assert op.render(IDS)["status"] == "Succeeded" and "endTime" in op.render(IDS)
    (node,) = _nodes(store).values()
    assert node["metadata"]["name"].endswith("-vmss000000")
    assert node["metadata"]["labels"]["a"] == "b"
    assert node["status"]["capacity"]["nvidia.com/gpu"] == "1"
    assert _ready(node) == "False"
    assert {t["key"] for t in node["spec"]["taints"]} == {"sku", "node.kubernetes.io/not-ready"}

    clock.advance(3.0)
    (node,) = _nodes(store).values()
    assert _ready(node) == "True"
    assert node["spec"]["taints"] == [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}]


def test_scaling_adds_new_instances_and_removes_the_newest(
    service: AgentPoolService, store: Store, clock: ManualClock
) -> None:
    service.put("gpu", _body())
    clock.advance(2)
    status, body, _ = service.put("gpu", _body(count=3))
    assert (status, body["properties"]["provisioningState"], body["properties"]["count"]) == (
        200,
        "Updating",
        3,
    )
    clock.advance(2)
    assert sorted(name[-6:] for name in _nodes(store)) == ["000000", "000001", "000002"]
    service.put("gpu", _body(count=1))
    clock.advance(2)
    assert [name[-6:] for name in _nodes(store)] == ["000000"]
    service.put("gpu", _body(count=2))
    clock.advance(2)
    assert sorted(name[-6:] for name in _nodes(store)) == ["000000", "000003"]


def test_label_and_taint_updates_reach_existing_nodes(
    service: AgentPoolService, store: Store, clock: ManualClock
) -> None:
    service.put("gpu", _body(nodeLabels={"old": "1", "keep": "1"}, nodeTaints=["sku=gpu:NoSchedule"]))
    clock.advance(10)
    service.put("gpu", _body(nodeLabels={"keep": "2", "new": "1"}, nodeTaints=["team=ml:NoExecute"]))
    clock.advance(2)
    (node,) = _nodes(store).values()
    labels = node["metadata"]["labels"]
    assert "old" not in labels and (labels["keep"], labels["new"]) == ("2", "1")
    assert node["spec"]["taints"] == [{"key": "team", "value": "ml", "effect": "NoExecute"}]


def test_delete_goes_deleting_then_the_pool_and_its_nodes_are_gone(
    service: AgentPoolService, store: Store, clock: ManualClock
) -> None:
    service.put("gpu", _body(count=2))
    clock.advance(2)
    op = service.delete("gpu")
    assert op is not None and service.get("gpu")["properties"]["provisioningState"] == "Deleting"
    assert len(_nodes(store)) == 2
    clock.advance(1)
    assert _nodes(store) == {} and service.list() == []
    with pytest.raises(ArmError) as caught:
        service.get("gpu")
    assert (caught.value.status, caught.value.code) == (404, "NotFound")
    assert service.operation(op.id).status == "Succeeded"
    assert service.delete("gpu") is None
    assert clock.pending == 0  # the nodes' Ready timers went with them


def test_second_put_while_creating_is_refused_like_aks(service: AgentPoolService) -> None:
    _, _, op = service.put("gpu", _body())
    with pytest.raises(ArmError) as caught:
        service.put("gpu", _body(count=2))
    assert (caught.value.status, caught.value.code) == (409, "OperationNotAllowed")
    assert "in progress create node pool operation" in caught.value.message and op.id in caught.value.message


def test_delete_preempts_a_create(service: AgentPoolService, store: Store, clock: ManualClock) -> None:
    _, _, create = service.put("gpu", _body())
    delete = service.delete("gpu")
    assert create.status == "Canceled" and create.error is not None
    assert service.delete("gpu") is delete  # a repeated DELETE joins the running one
    clock.advance(5)
    assert _nodes(store) == {} and service.list() == []


@pytest.mark.parametrize(
    ("change", "wire"),
    [
        ({"vmSize": "Standard_NC48ads_A100_v4"}, "vmSize"),
        ({"osDiskSizeGB": 256}, "osDiskSizeGB"),
        ({"gpuInstanceProfile": "MIG2g"}, "gpuInstanceProfile"),
    ],
)
def test_immutable_properties_cannot_change(
    service: AgentPoolService, clock: ManualClock, change: dict[str, Any], wire: str
) -> None:
    service.put("gpu", _body())
    clock.advance(2)
    body = _body()
    body["properties"].update(change)
    with pytest.raises(ArmError) as caught:
        service.put("gpu", body)
    assert (caught.value.status, caught.value.code) == (400, "PropertyChangeNotAllowed")
    assert f"properties.{wire}" in caught.value.message


def test_quota_fails_the_operation_and_leaves_the_pool_failed(
    service: AgentPoolService, store: Store, clock: ManualClock
) -> None:
    service.faults.quota(GPU, limit_vcpus=48)
    service.put("one", _body())
    clock.advance(2)
    _, _, op = service.put("two", _body(count=2))
    clock.advance(2)
    assert op.status == "Failed" and op.error is not None
    assert op.error["code"] == "QuotaExceeded"
    assert "StandardNCADSA100v4Family Cores quota" in op.error["message"]
    assert "Current Limit: 48, Current Usage: 24, Additional Required: 48" in op.error["message"]
    pool = service.get("two")["properties"]
    assert pool["provisioningState"] == "Failed" and pool["status"]["provisioningError"] == op.error
    assert len(_nodes(store)) == 1


def test_synchronous_quota_refuses_the_put_and_stores_nothing(service: AgentPoolService) -> None:
    service.faults.quota(GPU, limit_vcpus=0, synchronous=True)
    with pytest.raises(ArmError) as caught:
        service.put("gpu", _body())
    assert (caught.value.status, caught.value.code) == (400, "QuotaExceeded")
    assert service.list() == []


def test_unavailable_sku_fails_every_create_of_that_size(
    service: AgentPoolService, clock: ManualClock
) -> None:
    service.faults.sku_not_available(GPU)
    ops = [service.put(name, _body())[2] for name in ("a", "b")]
    _, _, cpu = service.put("c", _body("Standard_D4s_v3"))
    clock.advance(2)
    assert [op.error["code"] if op.error else None for op in (*ops, cpu)] == ["SkuNotAvailable"] * 2 + [None]
    assert "not available in location 'eastus'" in str(ops[0].error)


def test_allocation_failure_is_transient_and_a_retried_put_recovers(
    service: AgentPoolService, store: Store, clock: ManualClock
) -> None:
    service.faults.allocation_failures(1)
    _, _, first = service.put("gpu", _body())
    clock.advance(2)
    assert first.error is not None and first.error["code"] == "AllocationFailed"
    status, body, retry = service.put("gpu", _body())
    assert (status, body["properties"]["provisioningState"]) == (200, "Updating")
    clock.advance(2)
    assert retry.status == "Succeeded" and len(_nodes(store)) == 1
    assert "status" not in service.get("gpu")["properties"]


def test_slow_provisioning_knob(service: AgentPoolService, clock: ManualClock) -> None:
    service.faults.provisioning_s = 30
    service.put("gpu", _body())
    clock.advance(29)
    assert service.get("gpu")["properties"]["provisioningState"] == "Creating"
    clock.advance(1)
    assert service.get("gpu")["properties"]["provisioningState"] == "Succeeded"


@pytest.mark.parametrize(
    ("knob", "check"),
    [
        ("nodes_never_ready", lambda node: _ready(node) == "False"),
        ("hide_gpus", lambda node: "nvidia.com/gpu" not in node["status"]["allocatable"]),
    ],
)
def test_broken_node_knobs(
    service: AgentPoolService, store: Store, clock: ManualClock, knob: str, check: Any
) -> None:
    setattr(service.faults, knob, True)
    service.put("gpu", _body())
    clock.advance(60)
    (node,) = _nodes(store).values()
    assert check(node)


def test_node_deleted_by_someone_else_before_ready_is_left_alone(
    service: AgentPoolService, store: Store, clock: ManualClock
) -> None:
    service.put("gpu", _body())
    clock.advance(2)
    (name,) = _nodes(store)
    store.delete("v1", "Node", name)
    clock.advance(5)
    assert _nodes(store) == {}


@pytest.mark.parametrize(
    ("headers", "exists"),
    [({"if_none_match": "*"}, True), ({"if_match": '"stale"'}, True), ({"if_match": "*"}, False)],
)
def test_preconditions_fail_with_412(
    service: AgentPoolService, clock: ManualClock, headers: dict[str, str], exists: bool
) -> None:
    if exists:
        service.put("gpu", _body())
        clock.advance(2)
    with pytest.raises(ArmError) as caught:
        service.put("gpu", _body(), **headers)
    assert (caught.value.status, caught.value.code) == (412, "PreconditionFailed")


def test_matching_etag_allows_the_update(service: AgentPoolService, clock: ManualClock) -> None:
    _, body, _ = service.put("gpu", _body())
    clock.advance(2)
    status, _, _ = service.put("gpu", _body(count=2), if_match=body["properties"]["eTag"])
    assert status == 200


def test_unknown_operation_is_404(service: AgentPoolService) -> None:
    with pytest.raises(ArmError) as caught:
        service.operation("nope")
    assert (caught.value.status, caught.value.code) == (404, "NotFound")
