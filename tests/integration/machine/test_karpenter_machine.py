"""The Machine controller with the Karpenter provisioner, over HTTP: NodeClaims written through kaito.ctrl's
Client into kaito.sim, turned into Nodes by the sim's fake Karpenter.

The scenarios of the AKS tests that apply to Karpenter: a Machine becomes Ready on the NodeClaim's Node,
deleting it removes claim and Node; insufficient capacity (Karpenter deletes the claim itself) and a launch
slower than the timeout fail the Machine and leave nothing; a restarted controller adopts the claim its
predecessor made; a Node that never registers fails the Machine after the registration timeout.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kaito import ctrl
from kaito.api.conditions import find_condition
from kaito.api.machine import Machine
from kaito.controllers.machine import MACHINE, MachineControllerOptions
from kaito.provisioners.karpenter import NODECLAIM, KarpenterProvisioner
from kaito.provisioners.karpenter_claim import nodeclaim_name
from kaito.sim.cloud.karpenter import KarpenterSimulator
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

GPU = "Standard_NC24ads_A100_v4"
Eventually = Callable[..., Awaitable[None]]
UntilMachine = Callable[..., Awaitable[Machine | None]]  # the conftest's `until_machine`


def _failed(machine: Machine | None) -> bool:
    return machine is not None and machine.status is not None and machine.status.failed


def _condition(machine: Machine | None, kind: str) -> str | None:
    if machine is None or machine.status is None:
        return None
    found = find_condition(machine.status.conditions, kind)
    return found.status if found is not None else None


def _claims(cluster: Cluster) -> list[dict[str, Any]]:
    return cluster.store.list("karpenter.sh/v1", "NodeClaim")[0]


async def test_a_machine_becomes_ready_on_a_nodeclaim_node_and_deleting_it_removes_claim_and_node(
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    new_machine: Callable[..., Machine],
    until_machine: UntilMachine,
) -> None:
    await run_controller.start()
    await client.create(new_machine("kgpu-1", provisioner="karpenter"))

    machine = await until_machine("kgpu-1", lambda m: _condition(m, "Ready") == "True")
    assert machine is not None and machine.status is not None

    (claim,) = _claims(cluster)
    assert claim["metadata"]["name"] == nodeclaim_name("kgpu-1")
    assert claim["metadata"]["labels"]["karpenter.sh/nodepool"] == "kaito"
    assert claim["metadata"]["labels"]["kaito.sh/workspace"] == "phi-3"
    assert claim["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"
    assert claim["spec"]["requirements"][0] == {
        "key": "node.kubernetes.io/instance-type",
        "operator": "In",
        "values": [GPU],
    }
    assert claim["spec"]["resources"]["requests"] == {"nvidia.com/gpu": "1", "storage": "256Gi"}
    claim_status = {c["type"]: c["status"] for c in claim["status"]["conditions"]}
    assert claim_status == {"Launched": "True", "Registered": "True", "Initialized": "True", "Ready": "True"}

    node = await client.get(ctrl.GVK("v1", "Node"), machine.status.node_name or "")
    assert node["metadata"]["name"] == claim["status"]["nodeName"]
    assert node["metadata"]["labels"]["kaito.sh/machine"] == "kgpu-1"
    assert {"key": "sku", "value": "gpu", "effect": "NoSchedule"} in node["spec"]["taints"]
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "1"
    assert machine.status.provider_id == claim["status"]["providerID"] == node["spec"]["providerID"]

    await client.delete(MACHINE, "kgpu-1")
    await until_machine("kgpu-1", lambda m: m is None)
    assert _claims(cluster) == []
    assert cluster.store.list("v1", "Node")[0] == []


async def test_insufficient_capacity_fails_the_machine_with_karpenters_message(
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    karpenter: KarpenterSimulator,
    eventually: Eventually,
    new_machine: Callable[..., Machine],
    until_machine: UntilMachine,
) -> None:
    karpenter.insufficient_capacity = {GPU}
    karpenter.termination_s = 0.5  # Karpenter's own deletion of the claim takes a moment, as in a cluster
    await run_controller.start()
    await client.create(new_machine("kshort", provisioner="karpenter"))

    machine = await until_machine("kshort", _failed)
    assert machine is not None and machine.status is not None
    assert machine.status.failure_reason == "InsufficientCapacity"
    assert "insufficient capacity" in (machine.status.failure_message or "")
    assert karpenter.launched == 0

    async def claim_gone() -> bool:
        return _claims(cluster) == []

    await eventually(claim_gone)


async def test_a_launch_slower_than_the_timeout_fails_the_machine_and_deletes_the_claim(
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    karpenter: KarpenterSimulator,
    eventually: Eventually,
    new_machine: Callable[..., Machine],
    until_machine: UntilMachine,
) -> None:
    karpenter.launch_s = 60.0
    await run_controller.start(options=MachineControllerOptions(launch_timeout=1.0, poll_interval=0.1))
    await client.create(new_machine("kslow", provisioner="karpenter"))

    machine = await until_machine("kslow", _failed)
    assert machine is not None and machine.status is not None
    assert machine.status.failure_reason == "LaunchTimeout"

    async def claim_gone() -> bool:
        return _claims(cluster) == []

    await eventually(claim_gone)
    assert karpenter.launched == 0


async def test_a_restarted_controller_adopts_the_claim_its_predecessor_created(
    eventually: Eventually,
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    karpenter: KarpenterSimulator,
    new_machine: Callable[..., Machine],
    until_machine: UntilMachine,
) -> None:
    machine = Machine.model_validate(await client.create(new_machine("kcrash", provisioner="karpenter")))
    await KarpenterProvisioner(client).create(machine)  # the first process wrote the claim, then died

    async def launched() -> bool:  # Karpenter took the claim up while no controller ran
        return karpenter.launched == 1

    await eventually(launched)

    await run_controller.start()
    await until_machine("kcrash", lambda m: _condition(m, "Ready") == "True")
    assert len(_claims(cluster)) == 1 and karpenter.launched == 1


async def test_a_node_that_never_registers_fails_the_machine_after_the_registration_timeout(
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    karpenter: KarpenterSimulator,
    eventually: Eventually,
    new_machine: Callable[..., Machine],
    until_machine: UntilMachine,
) -> None:
    karpenter.never_register = True
    options = MachineControllerOptions(registration_timeout=1.0, poll_interval=0.1, retry_interval=0.1)
    await run_controller.start(options=options)
    await client.create(new_machine("kghost", provisioner="karpenter"))

    machine = await until_machine("kghost", lambda m: _condition(m, "Launched") == "True")
    assert _condition(machine, "Registered") == "Unknown" and _condition(machine, "Ready") == "Unknown"
    assert (await client.get(NODECLAIM, nodeclaim_name("kghost")))["status"].get("nodeName") is None

    machine = await until_machine("kghost", _failed)
    assert machine is not None and machine.status is not None
    assert machine.status.failure_reason == "RegistrationTimeout"

    async def claim_gone() -> bool:
        return _claims(cluster) == []

    await eventually(claim_gone)
