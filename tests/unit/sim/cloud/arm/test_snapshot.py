"""The ARM snapshot section in fake time: pools in every provisioningState survive a restart and finish."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest

from kaito.sim.cloud.arm.clock import ManualClock
from kaito.sim.cloud.arm.faults import ArmFaults
from kaito.sim.cloud.arm.models import ClusterIds
from kaito.sim.cloud.arm.pools import AgentPoolService
from kaito.sim.cloud.arm.snapshot import check_ids, dump_arm, ids_options, load_arm, records_of
from kaito.sim.server.store import Store

IDS = ClusterIds("sub-1", "rg", "aks", "eastus")
GPU = "Standard_NC24ads_A100_v4"
PROVISIONING_S, DELETION_S, READY_S = 10.0, 4.0, 3.0


def _service(store: Store, clock: ManualClock, *, provisioning_s: float = PROVISIONING_S) -> AgentPoolService:
    return AgentPoolService(
        store,
        IDS,
        faults=ArmFaults(),
        clock=clock,
        provisioning_s=provisioning_s,
        deletion_s=DELETION_S,
        node_ready_after_s=READY_S,
    )


def _body(count: int = 1, **properties: Any) -> dict[str, Any]:
    return {"properties": {"vmSize": GPU, "count": count, "mode": "User", **properties}}


def _restart(
    store: Store, service: AgentPoolService, clock: ManualClock, *, provisioning_s: float = PROVISIONING_S
) -> tuple[Store, AgentPoolService]:
    """Stop ``service``, write both sections through JSON, and start a fresh store and service on them."""
    service.close()
    data = store.snapshot()
    data["arm"] = dump_arm(
        IDS, service.pools, service.operations, ready_due=service.ready_due, addresses=service.addresses
    )
    data = json.loads(json.dumps(data))
    restored_store = Store.from_snapshot(data)
    restored = _service(restored_store, clock, provisioning_s=provisioning_s)
    image = load_arm(data["arm"])
    check_ids(image, restored.ids)
    pools, operations = records_of(image)
    restored.restore(pools, operations, ready_due=dict(image.ready_due), addresses=image.addresses)
    return restored_store, restored


def _nodes(store: Store) -> dict[str, str]:
    """Node name -> its Ready condition's status."""
    items, _ = store.list("v1", "Node")
    return {
        node["metadata"]["name"]: next(
            c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"
        )
        for node in items
    }


def _creating(service: AgentPoolService, clock: ManualClock) -> None:
    service.put("gpu", _body())


def _updating(service: AgentPoolService, clock: ManualClock) -> None:
    service.put("gpu", _body())
    clock.advance(PROVISIONING_S + READY_S)
    service.put("gpu", _body(count=2))


def _succeeded(service: AgentPoolService, clock: ManualClock) -> None:
    service.put("gpu", _body())
    clock.advance(PROVISIONING_S + READY_S)


def _failed(service: AgentPoolService, clock: ManualClock) -> None:
    service.faults.sku_not_available(GPU)
    service.put("gpu", _body())
    clock.advance(PROVISIONING_S)


def _deleting(service: AgentPoolService, clock: ManualClock) -> None:
    service.put("gpu", _body())
    clock.advance(PROVISIONING_S + READY_S)
    service.delete("gpu")


# state before the stop, the setup, what GET says right after the restore, and once every timer has run
CASES: list[tuple[str, Callable[[AgentPoolService, ManualClock], None], str, str | None, int]] = [
    ("Creating", _creating, "Creating", "Succeeded", 1),
    ("Updating", _updating, "Updating", "Succeeded", 2),
    ("Succeeded", _succeeded, "Succeeded", "Succeeded", 1),
    ("Failed", _failed, "Failed", "Failed", 0),
    ("Deleting", _deleting, "Deleting", None, 0),
]


@pytest.mark.parametrize(
    ("state", "setup", "after_restore", "finally_", "nodes"), CASES, ids=[c[0] for c in CASES]
)
def test_a_pool_in_each_state_survives_a_restart_and_finishes_its_operation(
    state: str,
    setup: Callable[[AgentPoolService, ManualClock], None],
    after_restore: str,
    finally_: str | None,
    nodes: int,
) -> None:
    clock = ManualClock()
    store = Store()
    service = _service(store, clock)
    setup(service, clock)
    before = service.get("gpu")
    assert before["properties"]["provisioningState"] == state
    running = service.pools["gpu"].operation

    store, service = _restart(store, service, clock)

    assert service.get("gpu") == before  # same body, eTag and error: the cloud did not forget the pool
    if running is not None:  # a client can still poll the operation it was handed before the stop
        assert service.operation(running.id).render(IDS) == running.render(IDS)
    clock.advance(PROVISIONING_S + DELETION_S + READY_S)
    if finally_ is None:
        assert "gpu" not in service.pools
    else:
        assert service.get("gpu")["properties"]["provisioningState"] == finally_
    assert sorted(_nodes(store).values()) == ["True"] * nodes
    assert clock.pending == 0


def test_the_restored_operation_keeps_its_due_time() -> None:
    clock = ManualClock()
    store = Store()
    service = _service(store, clock)
    service.put("gpu", _body())
    clock.advance(6.0)  # 4 s of the 10 s left when the sim stops

    store, service = _restart(store, service, clock)

    clock.advance(3.9)
    assert service.get("gpu")["properties"]["provisioningState"] == "Creating"
    clock.advance(0.1)
    assert service.get("gpu")["properties"]["provisioningState"] == "Succeeded"


@pytest.mark.parametrize(
    ("down_s", "state"),
    [(0.0, "Creating"), (100.0, "Succeeded")],
    ids=["restarted-at-once", "down-past-the-due-time"],
)
def test_a_faster_restarted_cloud_finishes_within_its_own_delay(down_s: float, state: str) -> None:
    clock = ManualClock()
    store = Store()
    service = _service(store, clock)
    service.put("gpu", _body())
    service.close()
    clock.advance(down_s)  # nothing runs while the sim is down

    store, service = _restart(store, service, clock, provisioning_s=1.0)

    assert service.get("gpu")["properties"]["provisioningState"] == "Creating"
    clock.advance(0.0)
    assert service.get("gpu")["properties"]["provisioningState"] == state
    clock.advance(1.0)
    assert service.get("gpu")["properties"]["provisioningState"] == "Succeeded"


def test_nodes_registered_before_the_stop_turn_ready_after_it_and_new_ones_get_new_names() -> None:
    clock = ManualClock()
    store = Store()
    service = _service(store, clock)
    service.put("gpu", _body())
    clock.advance(PROVISIONING_S)  # the node registered, not Ready yet
    first = _nodes(store)
    assert list(first.values()) == ["False"]

    store, service = _restart(store, service, clock)

    clock.advance(READY_S)
    assert _nodes(store) == dict.fromkeys(first, "True")
    service.put("gpu", _body(count=2))
    clock.advance(PROVISIONING_S + READY_S)
    names = sorted(_nodes(store))
    assert len(names) == 2 and set(first) < set(names)  # the scale-set instance id is not reused
    addresses = [
        a["address"]
        for node in store.list("v1", "Node")[0]
        for a in node["status"]["addresses"]
        if a["type"] == "InternalIP"
    ]
    assert len(set(addresses)) == 2


def test_ids_come_from_the_section_and_other_ids_are_refused() -> None:
    service = _service(Store(), ManualClock())
    section = dump_arm(IDS, service.pools, service.operations, ready_due={}, addresses=0)
    assert ids_options(section) == {
        "subscription_id": "sub-1",
        "resource_group": "rg",
        "cluster_name": "aks",
        "location": "eastus",
        "kubernetes_version": IDS.kubernetes_version,
    }
    with pytest.raises(ValueError, match=r"belong to cluster sub-1/rg/aks in eastus.*serves sub-1/rg/other"):
        check_ids(load_arm(section), ClusterIds("sub-1", "rg", "other", "eastus"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(version=2), "has version 2; this endpoint reads version 1"),
        (lambda s: s["pools"][0].update(operation="nope"), "names operation 'nope'"),
        (lambda s: s["pools"][0].update(instances="x"), "not one this endpoint wrote"),
    ],
    ids=["version", "dangling-operation", "bad-field"],
)
def test_a_section_this_endpoint_did_not_write_is_refused(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    clock = ManualClock()
    service = _service(Store(), clock)
    service.put("gpu", _body())
    section = json.loads(
        json.dumps(dump_arm(IDS, service.pools, service.operations, ready_due={}, addresses=0))
    )
    change(section)
    with pytest.raises(ValueError, match=message):
        load_arm(section)


def test_restore_refuses_a_service_that_already_has_pools() -> None:
    clock = ManualClock()
    service = _service(Store(), clock)
    service.put("gpu", _body())
    with pytest.raises(RuntimeError, match=r"already holds pools \['gpu'\]"):
        service.restore({}, {}, ready_due={}, addresses=0)


def test_due_times_are_saved_as_utc_timestamps() -> None:
    clock = ManualClock(datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC))
    service = _service(Store(), clock)
    service.put("gpu", _body())
    section = dump_arm(IDS, service.pools, service.operations, ready_due={}, addresses=0)
    assert section["operations"][0]["due"] == "2026-03-01T00:00:10Z"
