"""The sim's fake Karpenter: NodeClaim lifecycle over a Store, in manual time (no loop, no sleeping)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kaito.sim.cloud.arm.clock import ManualClock
from kaito.sim.cloud.karpenter import TERMINATION_FINALIZER, KarpenterSimulator, nodeclaim_crd
from kaito.sim.server.errors import NotFound
from kaito.sim.server.store import Store

GPU = "Standard_NC24ads_A100_v4"


def _claim(name: str = "ws000000001", instance_type: str = GPU, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"kaito.sh/machine": "m1", "karpenter.sh/nodepool": "kaito"}},
        "spec": {
            "nodeClassRef": {"group": "karpenter.azure.com", "kind": "AKSNodeClass", "name": "default"},
            "requirements": [
                {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [instance_type]}
            ],
            "resources": {"requests": {"storage": "200Gi"}},
            "taints": [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}],
            **spec,
        },
    }


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> Store:
    return Store(clock=clock.now)


@pytest.fixture
def karpenter(store: Store, clock: ManualClock) -> KarpenterSimulator:
    simulator = KarpenterSimulator(store, clock=clock, launch_s=1, register_s=1, ready_s=1, termination_s=1)
    simulator.start()
    return simulator


def _get(store: Store, name: str = "ws000000001") -> dict[str, Any]:
    return store.get("karpenter.sh/v1", "NodeClaim", name)


def _conditions(claim: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in (claim.get("status") or {}).get("conditions", [])}


def test_start_installs_the_crd_once(store: Store, karpenter: KarpenterSimulator) -> None:
    karpenter.stop()
    KarpenterSimulator(store).start()  # a second simulator finds the CRD in place
    crds = store.list("apiextensions.k8s.io/v1", "CustomResourceDefinition")[0]
    assert [c["metadata"]["name"] for c in crds] == ["nodeclaims.karpenter.sh"]
    assert nodeclaim_crd()["spec"]["scope"] == "Cluster"


def test_a_claim_launches_registers_and_initializes_a_gpu_node(
    store: Store, clock: ManualClock, karpenter: KarpenterSimulator
) -> None:
    store.create("karpenter.sh/v1", "NodeClaim", _claim())
    clock.advance(0)
    claim = _get(store)
    assert claim["metadata"]["finalizers"] == [TERMINATION_FINALIZER]
    assert _conditions(claim) == dict.fromkeys(("Launched", "Registered", "Initialized", "Ready"), "Unknown")

    clock.advance(1)
    claim = _get(store)
    assert _conditions(claim)["Launched"] == "True"
    assert claim["status"]["providerID"] == karpenter.provider_id("ws000000001")
    assert claim["status"]["capacity"]["nvidia.com/gpu"] == "1"
    assert claim["status"]["capacity"]["ephemeral-storage"] == "200Gi"
    assert store.list("v1", "Node")[0] == []

    clock.advance(1)
    node = store.get("v1", "Node", "aks-ws000000001")
    assert node["metadata"]["labels"]["kaito.sh/machine"] == "m1"
    assert node["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-A100-80GB-PCIe"
    assert node["metadata"]["labels"]["node.kubernetes.io/instance-type"] == GPU
    assert node["spec"]["providerID"] == claim["status"]["providerID"]
    assert {t["key"] for t in node["spec"]["taints"]} == {"sku", "node.kubernetes.io/not-ready"}
    assert _conditions(_get(store))["Registered"] == "True"
    assert _get(store)["status"]["nodeName"] == "aks-ws000000001"

    clock.advance(1)
    node = store.get("v1", "Node", "aks-ws000000001")
    assert node["spec"]["taints"] == [{"key": "sku", "value": "gpu", "effect": "NoSchedule"}]
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]} == {"Ready": "True"}
    assert _conditions(_get(store)) == dict.fromkeys(
        ("Launched", "Registered", "Initialized", "Ready"), "True"
    )
    assert karpenter.launched == 1


def test_deleting_a_claim_removes_its_node_then_the_claim(
    store: Store, clock: ManualClock, karpenter: KarpenterSimulator
) -> None:
    store.create("karpenter.sh/v1", "NodeClaim", _claim())
    clock.advance(3)
    store.delete("karpenter.sh/v1", "NodeClaim", "ws000000001")
    clock.advance(0)
    assert _get(store)["metadata"]["deletionTimestamp"]  # held by the termination finalizer
    clock.advance(1)
    with pytest.raises(NotFound):
        _get(store)
    assert store.list("v1", "Node")[0] == []


@pytest.mark.parametrize("short", [{GPU}, {"*"}])
def test_insufficient_capacity_fails_launch_and_karpenter_deletes_the_claim(
    store: Store, clock: ManualClock, karpenter: KarpenterSimulator, short: set[str]
) -> None:
    karpenter.insufficient_capacity = short
    store.create("karpenter.sh/v1", "NodeClaim", _claim())
    clock.advance(1)
    claim = _get(store)
    launched = next(c for c in claim["status"]["conditions"] if c["type"] == "Launched")
    assert (launched["status"], launched["reason"]) == ("False", "InsufficientCapacity")
    assert GPU in launched["message"] and claim["metadata"]["deletionTimestamp"]
    clock.advance(1)
    with pytest.raises(NotFound):
        _get(store)
    assert karpenter.launched == 0


def test_an_unknown_instance_type_cannot_launch(
    store: Store, clock: ManualClock, karpenter: KarpenterSimulator
) -> None:
    store.create("karpenter.sh/v1", "NodeClaim", _claim(instance_type="Standard_Nope_v1"))
    clock.advance(1)
    assert _conditions(_get(store))["Launched"] == "False"


def test_a_slow_launch_takes_launch_s(
    store: Store, clock: ManualClock, karpenter: KarpenterSimulator
) -> None:
    karpenter.launch_s = 100
    store.create("karpenter.sh/v1", "NodeClaim", _claim())
    clock.advance(99)
    assert _conditions(_get(store))["Launched"] == "Unknown"
    clock.advance(1)
    assert _conditions(_get(store))["Launched"] == "True"


def test_a_node_that_never_registers(store: Store, clock: ManualClock, karpenter: KarpenterSimulator) -> None:
    karpenter.never_register = True
    store.create("karpenter.sh/v1", "NodeClaim", _claim())
    clock.advance(60)
    assert _conditions(_get(store))["Launched"] == "True"
    assert _conditions(_get(store))["Registered"] == "Unknown"
    assert store.list("v1", "Node")[0] == []


def test_hidden_gpus_leave_the_node_without_nvidia_resources(
    store: Store, clock: ManualClock, karpenter: KarpenterSimulator
) -> None:
    karpenter.hide_gpus = True
    store.create("karpenter.sh/v1", "NodeClaim", _claim())
    clock.advance(3)
    node = store.get("v1", "Node", "aks-ws000000001")
    assert "nvidia.com/gpu" not in node["status"]["allocatable"]


def test_claims_made_before_start_are_picked_up(store: Store, clock: ManualClock) -> None:
    first = KarpenterSimulator(store, clock=clock, launch_s=1)
    first.start()
    first.stop()
    store.create("karpenter.sh/v1", "NodeClaim", _claim())
    KarpenterSimulator(store, clock=clock, launch_s=1).start()
    clock.advance(1)
    assert _conditions(_get(store))["Launched"] == "True"


def test_stop_cancels_pending_steps(store: Store, clock: ManualClock, karpenter: KarpenterSimulator) -> None:
    store.create("karpenter.sh/v1", "NodeClaim", _claim())
    clock.advance(0)
    karpenter.stop()
    clock.advance(10)
    assert _conditions(_get(store))["Launched"] == "Unknown"


def test_negative_timings_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="launch_s is -1"):
        KarpenterSimulator(store, launch_s=-1)


def _restart(
    store: Store, clock: ManualClock, karpenter: KarpenterSimulator
) -> tuple[Store, KarpenterSimulator]:
    """Stop the simulator, carry the store through a JSON snapshot, and start a fresh one on it."""
    karpenter.stop()
    restored = Store.from_snapshot(json.loads(json.dumps(store.snapshot())), clock=clock.now)
    simulator = KarpenterSimulator(
        restored, clock=clock, launch_s=1, register_s=1, ready_s=1, termination_s=1
    )
    simulator.start()
    return restored, simulator


@pytest.mark.parametrize(
    ("progress_s", "delete"),
    [(0.0, False), (1.0, False), (2.0, False), (3.0, False), (3.5, True)],
    ids=["created", "launched", "registered", "ready", "terminating"],
)
def test_a_restarted_karpenter_carries_each_claim_on_from_its_conditions(
    store: Store, clock: ManualClock, karpenter: KarpenterSimulator, progress_s: float, delete: bool
) -> None:
    """Karpenter keeps no state of its own that matters: a fresh one reads each claim's next step from it."""
    store.create("karpenter.sh/v1", "NodeClaim", _claim())
    clock.advance(0)
    if delete:
        clock.advance(3)  # Ready, then deleted
        store.delete("karpenter.sh/v1", "NodeClaim", "ws000000001")
        clock.advance(progress_s - 3)  # its termination grace has begun, the Node is still there
        assert len(store.list("v1", "Node")[0]) == 1
    else:
        clock.advance(progress_s)

    store, karpenter = _restart(store, clock, karpenter)
    clock.advance(5)

    nodes = store.list("v1", "Node")[0]
    if delete:
        assert nodes == []
        with pytest.raises(NotFound):
            _get(store)
        return
    assert _conditions(_get(store)) == dict.fromkeys(
        ("Launched", "Registered", "Initialized", "Ready"), "True"
    )
    (node,) = nodes
    assert node["metadata"]["name"] == karpenter.node_name("ws000000001")
    assert {c["type"]: c["status"] for c in node["status"]["conditions"]} == {"Ready": "True"}
    assert karpenter.launched == (1 if progress_s < 1 else 0)  # a launched VM is not launched again
