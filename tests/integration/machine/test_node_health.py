"""A Machine's Node going wrong after launch, over HTTP (failure modes 8, 9 and 10).

- The Node is lost after registering (deleted: node repair, a VM gone): the Machine says so
  (Registered False, NodeNotFound), and when the Node does not come back within the node-lost timeout it
  fails with NodeLost and its pool or claim is deleted, so its owner can replace it.
- The Node registers but never initializes (no nvidia.com/gpu: a broken driver or device plugin): the
  Machine fails with InitializationTimeout after the initialization timeout, and the claim is deleted.
The conftest's leak check then asserts nothing is left in the cloud.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kaito import ctrl
from kaito.api.conditions import find_condition
from kaito.api.machine import Machine
from kaito.controllers.machine import MachineControllerOptions
from kaito.provisioners.aks_pool import pool_name
from kaito.provisioners.karpenter_claim import nodeclaim_name
from kaito.sim.cloud.karpenter import KarpenterSimulator
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

Eventually = Callable[..., Awaitable[None]]
UntilMachine = Callable[..., Awaitable[Machine | None]]


def _condition(machine: Machine | None, kind: str) -> tuple[str, str] | None:
    if machine is None or machine.status is None:
        return None
    found = find_condition(machine.status.conditions, kind)
    return (found.status, found.reason) if found is not None else None


def _failed(machine: Machine | None) -> bool:
    return machine is not None and machine.status is not None and machine.status.failed


def _resources(cluster: Cluster, provisioner: str) -> list[str]:
    if provisioner == "aks":
        return list(cluster.arm.pools())
    return [c["metadata"]["name"] for c in cluster.store.list("karpenter.sh/v1", "NodeClaim")[0]]


# The timeouts must outlast the steps a test observes before they fire (the Node seen lost, the Machine seen
# registered without GPUs): a second or so did not on a loaded machine, and the test then missed the state.
NODE_LOST_S = 5.0
INITIALIZATION_S = 5.0


@pytest.mark.parametrize("provisioner", ["aks", "karpenter"])
async def test_a_node_lost_after_registering_fails_the_machine_after_the_timeout_and_frees_its_resource(
    provisioner: str,
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    karpenter: KarpenterSimulator,
    eventually: Eventually,
    new_machine: Callable[..., Machine],
    until_machine: UntilMachine,
) -> None:
    options = MachineControllerOptions(
        launch_timeout=60.0, node_lost_timeout=NODE_LOST_S, poll_interval=0.1, retry_interval=0.1
    )
    await run_controller.start(options=options)
    await client.create(new_machine("lost-1", provisioner=provisioner))
    machine = await until_machine("lost-1", lambda m: _condition(m, "Ready") == ("True", "Ready"))
    assert machine is not None and machine.status is not None and machine.status.node_name
    node_name = machine.status.node_name

    cluster.store.delete("v1", "Node", node_name)  # the VM is gone from under the cluster

    machine = await until_machine(
        "lost-1", lambda m: _condition(m, "Registered") == ("False", "NodeNotFound"), within=NODE_LOST_S
    )
    assert not _failed(machine), "the Machine waits for the node to come back first"
    assert _condition(machine, "Ready") == ("False", "NodeNotFound")

    machine = await until_machine("lost-1", _failed)
    assert machine is not None and machine.status is not None
    assert machine.status.failure_reason == "NodeLost"
    resource = {
        "aks": f"agent pool {pool_name('lost-1')}",
        "karpenter": f"NodeClaim {nodeclaim_name('lost-1')}",
    }[provisioner]
    assert machine.status.failure_message == (
        f"Node {node_name} of this Machine disappeared after registering and did not come back within "
        f"{NODE_LOST_S:g}s; {resource} is being deleted so the Machine's owner can replace it."
    )

    async def freed() -> bool:
        return _resources(cluster, provisioner) == []

    await eventually(freed)
    events = (await client.list(ctrl.GVK("v1", "Event"), "default")).items
    assert any(
        e["involvedObject"].get("name") == "lost-1" and e["reason"] == "NodeLost" and e["type"] == "Warning"
        for e in events
    )


async def test_a_node_that_never_shows_a_gpu_fails_the_machine_after_the_initialization_timeout(
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    karpenter: KarpenterSimulator,
    eventually: Eventually,
    new_machine: Callable[..., Machine],
    until_machine: UntilMachine,
) -> None:
    karpenter.hide_gpus = True
    options = MachineControllerOptions(
        launch_timeout=60.0, initialization_timeout=INITIALIZATION_S, poll_interval=0.1, retry_interval=0.1
    )
    await run_controller.start(options=options)
    await client.create(new_machine("nogpu", provisioner="karpenter"))

    machine = await until_machine(
        "nogpu", lambda m: _condition(m, "Initialized") == ("Unknown", "GPUsNotAllocatable")
    )
    assert _condition(machine, "Registered") == ("True", "Registered") and not _failed(machine)

    machine = await until_machine("nogpu", _failed)
    assert machine is not None and machine.status is not None
    assert machine.status.failure_reason == "InitializationTimeout"
    assert f"did not initialize within {INITIALIZATION_S:g}s" in (machine.status.failure_message or "")
    assert "nvidia.com/gpu allocatable" in (machine.status.failure_message or "")

    async def freed() -> bool:
        return _resources(cluster, "karpenter") == []

    await eventually(freed)
