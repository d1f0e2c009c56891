"""The Machine controller with the AKS provisioner, over HTTP: kaito.sim's API server and its ARM endpoint
through the real azure-mgmt-containerservice aio client.

Happy path (pool, Node labels/taint/GPUs, Ready, delete), then the faults of the issue: 429 storms, quota
and SKU-not-available, a create slower than the launch timeout, and a controller killed after its PUT.
The `run_controller` fixture asserts after each test that no pool, NodeClaim or Node is left.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kaito import ctrl
from kaito.api.conditions import find_condition
from kaito.api.machine import Machine
from kaito.controllers.machine import MACHINE, MachineControllerOptions
from kaito.ctrl.events import EVENT
from kaito.provisioners.aks_pool import pool_name
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

GPU = "Standard_NC24ads_A100_v4"
Eventually = Callable[..., Awaitable[None]]
UntilMachine = Callable[..., Awaitable[Machine | None]]  # the conftest's `until_machine`


def _failed(machine: Machine | None) -> bool:
    return machine is not None and machine.status is not None and machine.status.failed


def _is_ready(machine: Machine | None) -> bool:
    return (
        machine is not None
        and machine.status is not None
        and ((c := find_condition(machine.status.conditions, "Ready")) is not None and c.is_true)
    )


async def _events(client: ctrl.Client, name: str) -> list[dict[str, Any]]:
    events = (await client.list(EVENT, "default")).items
    return [e for e in events if e["involvedObject"].get("name") == name]


async def test_a_machine_becomes_ready_on_its_own_agent_pool_and_deleting_it_removes_pool_and_node(
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    new_machine: Callable[..., Machine],
    until_machine: UntilMachine,
) -> None:
    await run_controller.start()
    await client.create(new_machine("gpu-node-1"))

    machine = await until_machine("gpu-node-1", _is_ready)
    assert machine is not None and machine.status is not None

    pool = cluster.arm.pools()[pool_name("gpu-node-1")]
    props = pool["properties"]
    assert (props["vmSize"], props["count"], props["mode"], props["type"]) == (
        GPU,
        1,
        "User",
        "VirtualMachineScaleSets",
    )
    assert props["osDiskSizeGB"] == 256 and props["nodeTaints"] == ["sku=gpu:NoSchedule"]

    node = await client.get(ctrl.GVK("v1", "Node"), machine.status.node_name or "")
    labels = node["metadata"]["labels"]
    assert labels["kaito.sh/machine"] == "gpu-node-1"
    assert labels["kaito.sh/workspace"] == "phi-3" and labels["kaito.sh/workspacenamespace"] == "default"
    assert labels["kaito.sh/machine-type"] == "gpu"
    assert {"key": "sku", "value": "gpu", "effect": "NoSchedule"} in node["spec"]["taints"]
    assert node["status"]["capacity"]["nvidia.com/gpu"] == "1"
    assert machine.status.provider_id == node["spec"]["providerID"]
    assert machine.status.allocatable is not None and machine.status.allocatable["nvidia.com/gpu"] == "1"
    assert [c.type for c in machine.status.conditions or []] == [
        "Launched",
        "Registered",
        "Initialized",
        "Ready",
    ]
    assert machine.metadata.finalizers == ["kaito.sh/machine-cleanup"]
    # a Machine that comes up without trouble records no Event: its conditions tell each step
    assert [e["reason"] for e in await _events(client, "gpu-node-1")] == []

    await client.delete(MACHINE, "gpu-node-1")
    await until_machine("gpu-node-1", lambda m: m is None)
    assert cluster.arm.pools() == {}
    assert cluster.store.list("v1", "Node")[0] == []


async def test_a_429_storm_is_absorbed_honouring_retry_after_and_counted(
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    new_machine: Callable[..., Machine],
    aks_factory: Callable[..., Any],
    until_machine: UntilMachine,
    eventually: Eventually,
) -> None:
    aks = aks_factory(retry_total=0)  # let every 429 reach the controller
    await run_controller.start(aks=aks)
    cluster.arm.faults.throttle(3, retry_after_s=1)
    started = time.monotonic()
    await client.create(new_machine("throttled"))

    await until_machine("throttled", _is_ready, within=20.0)
    assert aks.throttled == 3
    assert time.monotonic() - started >= 3.0  # three Retry-After: 1 waits, one after another

    async def counted_thrice() -> bool:  # the recorder's count patches may land after the status
        warnings = [e for e in await _events(client, "throttled") if e["reason"] == "TooManyRequests"]
        return bool(warnings) and warnings[0]["type"] == "Warning" and warnings[0]["count"] >= 3

    await eventually(counted_thrice)
    assert len(cluster.arm.pools()) == 1


@pytest.mark.parametrize(
    ("fault", "reason", "cloud_text"),
    [
        (lambda arm: arm.faults.quota(GPU, limit_vcpus=0), "QuotaExceeded", "quota"),
        (lambda arm: arm.faults.quota(GPU, limit_vcpus=0, synchronous=True), "QuotaExceeded", "quota"),
        (lambda arm: arm.faults.sku_not_available(GPU), "SkuNotAvailable", GPU),
        (lambda arm: arm.faults.allocation_failures(1), "AllocationFailed", "allocat"),
    ],
    ids=["quota", "quota-preflight", "sku-not-available", "allocation-failed"],
)
async def test_quota_and_capacity_failures_fail_the_machine_with_the_clouds_message_and_leave_nothing(
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    fault: Callable[[Any], None],
    reason: str,
    cloud_text: str,
    eventually: Eventually,
    new_machine: Callable[..., Machine],
    until_machine: UntilMachine,
) -> None:
    fault(cluster.arm)
    await run_controller.start()
    await client.create(new_machine("unlucky"))

    machine = await until_machine("unlucky", _failed)
    assert machine is not None and machine.status is not None
    assert machine.status.failure_reason == reason
    assert cloud_text.lower() in (machine.status.failure_message or "").lower()
    launched = find_condition(machine.status.conditions, "Launched")
    assert launched is not None and launched.status == "False" and launched.reason == reason
    assert launched.message == machine.status.failure_message

    async def warned_once() -> bool:  # the Event is recorded after the status it tells
        warnings = [e for e in await _events(client, "unlucky") if e["type"] == "Warning"]
        return [e["reason"] for e in warnings] == [reason]

    await eventually(warned_once)

    async def pool_gone() -> bool:
        return cluster.arm.pools() == {}

    await eventually(pool_gone)
    assert cluster.store.list("v1", "Node")[0] == []


async def test_a_create_slower_than_the_launch_timeout_fails_the_machine_and_deletes_the_pool(
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    eventually: Eventually,
    new_machine: Callable[..., Machine],
    until_machine: UntilMachine,
) -> None:
    cluster.arm.faults.provisioning_s = 60.0
    await run_controller.start(options=MachineControllerOptions(launch_timeout=1.5, poll_interval=0.1))
    await client.create(new_machine("slow"))

    async def pool_creating() -> bool:
        return pool_name("slow") in cluster.arm.pools()

    await eventually(pool_creating)
    machine = await until_machine("slow", _failed)
    assert machine is not None and machine.status is not None
    assert machine.status.failure_reason == "LaunchTimeout"
    assert "1.5s" in (machine.status.failure_message or "")

    async def pool_gone() -> bool:
        return cluster.arm.pools() == {}

    await eventually(pool_gone)


async def test_a_controller_killed_after_its_put_is_restarted_and_adopts_the_pool(
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    new_machine: Callable[..., Machine],
    aks_factory: Callable[..., Any],
    until_machine: UntilMachine,
) -> None:
    cluster.arm.faults.provisioning_s = 1.0
    machine = Machine.model_validate(await client.create(new_machine("crashy")))
    # The first process got as far as the PUT, then died: no finalizer, no status written.
    first = aks_factory()
    observed = await first.create(machine)
    assert observed.phase == "Provisioning"
    await first.close()
    # the restart finds the pool mid-provisioning (provisioning_s=1.0 above), the state this test is about
    assert [p["properties"]["provisioningState"] for p in cluster.arm.pools().values()] == ["Creating"]

    await run_controller.start()
    await until_machine("crashy", _is_ready)

    assert list(cluster.arm.pools()) == [pool_name("crashy")]
    kinds = [op.kind for op in cluster.arm.service.operations.values()]
    assert kinds.count("create") == 1 and "update" not in kinds  # adopted, never re-created or re-PUT


async def test_a_controller_stopped_mid_create_resumes_from_the_cloud_state(
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    eventually: Eventually,
    new_machine: Callable[..., Machine],
    until_machine: UntilMachine,
) -> None:
    cluster.arm.faults.provisioning_s = 1.0
    await run_controller.start()
    await client.create(new_machine("resumed"))

    async def pool_creating() -> bool:
        return pool_name("resumed") in cluster.arm.pools()

    await eventually(pool_creating)
    await run_controller.stop()
    await run_controller.start()

    await until_machine("resumed", _is_ready)
    assert len(cluster.arm.pools()) == 1
    assert [op.kind for op in cluster.arm.service.operations.values()].count("create") == 1
