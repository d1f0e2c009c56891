"""The orphan sweep over HTTP (failure mode 11): agent pools and NodeClaims whose Machine is gone.

A Machine force-deleted (finalizer removed by hand) while its node runs, or deleted while its create is
running, leaves a pool or claim nobody will delete. The sweep (the real provisioners: the azure SDK paging
through the sim's ARM endpoint one pool per page, NodeClaims through kaito.ctrl's Client) collects exactly
those, once old enough, and leaves alone what kaito did not make. The conftest's leak check then asserts
not one pool, claim or Node is left.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from azure.mgmt.containerservice.models import AgentPool, AgentPoolManagedClusterAgentPoolProfileProperties

from kaito import ctrl
from kaito.api.machine import Machine
from kaito.controllers.machine import MACHINE
from kaito.controllers.orphans import OrphanSweeper, OrphanSweepOptions, add_orphan_sweeper
from kaito.provisioners.aks import AksProvisioner
from kaito.provisioners.aks_pool import pool_name
from kaito.provisioners.base import ProvisionerRegistry
from kaito.provisioners.karpenter import NODECLAIM, KarpenterProvisioner
from kaito.provisioners.karpenter_claim import nodeclaim_name
from kaito.sim.cloud.karpenter import KarpenterSimulator
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

GPU = "Standard_NC24ads_A100_v4"
Eventually = Callable[..., Awaitable[None]]
UntilMachine = Callable[..., Awaitable[Machine | None]]


@pytest.fixture
def sim_options() -> dict[str, Any]:
    # one pool per page: listing two pools takes the SDK through nextLink
    arm = {"provisioning_s": 0.3, "node_ready_after_s": 0.2, "retry_after_s": 0, "page_size": 1}
    return {"workloads": False, "arm_options": arm}


def _ready(machine: Machine | None) -> bool:
    if machine is None or machine.status is None:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in machine.status.conditions or [])


async def _force_delete(client: ctrl.Client, name: str, runner: Any, *, restart: bool = True) -> None:
    """What `kubectl patch machine X -p '{"metadata":{"finalizers":null}}'; kubectl delete` does, while the
    Machine controller is down: a running controller may re-add its finalizer between the two calls and
    then clean up itself, which is right but leaves the sweep nothing to collect."""
    await runner.stop()
    await client.patch(MACHINE, name, {"metadata": {"finalizers": None}})
    with contextlib.suppress(ctrl.NotFound):
        await client.delete(MACHINE, name)
    if restart:
        await runner.start()


def _claims(cluster: Cluster) -> list[dict[str, Any]]:
    return cluster.store.list("karpenter.sh/v1", "NodeClaim")[0]


def _pool_of(machine: str) -> str:
    return pool_name(machine)


async def _orphan_events(client: ctrl.Client, machine: str) -> list[dict[str, Any]]:
    events = (await client.list(ctrl.GVK("v1", "Event"), "default")).items
    return [
        e for e in events if e["involvedObject"].get("name") == machine and e["reason"] == "OrphanCollected"
    ]


@pytest_asyncio.fixture
async def sweeper_for(
    cluster: Cluster, client: ctrl.Client, aks_factory: Callable[..., AksProvisioner]
) -> AsyncIterator[Callable[[OrphanSweepOptions], OrphanSweeper]]:
    """`sweeper_for(options)`: an OrphanSweeper with fresh AKS and Karpenter provisioners."""
    registries: list[ProvisionerRegistry] = []

    def make(options: OrphanSweepOptions) -> OrphanSweeper:
        registry = ProvisionerRegistry([aks_factory(), KarpenterProvisioner(client)], default="aks")
        registries.append(registry)
        recorder = ctrl.EventRecorder(client, "kaito-orphan-sweeper")
        return OrphanSweeper(client, registry, recorder, options=options)

    yield make
    for registry in registries:
        await registry.close()


async def test_a_force_deleted_machines_pool_is_collected_once_old_enough_and_a_foreign_pool_is_not(
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    aks_factory: Callable[..., AksProvisioner],
    sweeper_for: Callable[[OrphanSweepOptions], OrphanSweeper],
    eventually: Eventually,
    new_machine: Callable[..., Machine],
    until_machine: UntilMachine,
) -> None:
    await run_controller.start()
    await client.create(new_machine("leak-1"))
    await client.create(new_machine("kept-1"))
    await until_machine("leak-1", _ready)
    await until_machine("kept-1", _ready)
    await _force_delete(client, "leak-1", run_controller)
    await until_machine("leak-1", lambda m: m is None)

    # a pool someone else made (no kaito tags), in the same cluster
    admin = aks_factory()
    foreign = AgentPool(
        properties=AgentPoolManagedClusterAgentPoolProfileProperties(
            count=1, vm_size=GPU, mode="User", os_type="Linux", tags={"team": "ml"}
        )
    )
    arm = cluster.arm
    try:
        poller = await admin.client.agent_pools.begin_create_or_update(
            arm.ids.resource_group, arm.ids.cluster_name, "userpool", foreign
        )
        await poller.result()
        assert set(arm.pools()) == {_pool_of("leak-1"), _pool_of("kept-1"), "userpool"}

        assert await sweeper_for(OrphanSweepOptions(min_age=3600.0)).sweep() == []  # too young to collect

        collected = await sweeper_for(OrphanSweepOptions(min_age=0.0)).sweep()
        assert [(o.provisioner, o.owned.name, o.owned.machine) for o in collected] == [
            ("aks", _pool_of("leak-1"), "leak-1")
        ]

        async def only_ours_and_foreign_left() -> bool:
            return set(arm.pools()) == {_pool_of("kept-1"), "userpool"}

        await eventually(only_ours_and_foreign_left)
        (event,) = await _orphan_events(client, "leak-1")
        assert event["message"].startswith(
            f"Deleting agent pool {_pool_of('leak-1')}: it was made by provisioner aks for Machine leak-1, "
            "which no longer exists"
        )
        assert _ready(await until_machine("kept-1", _ready))  # the live Machine's node is untouched
    finally:
        poller = await admin.client.agent_pools.begin_delete(
            arm.ids.resource_group, arm.ids.cluster_name, "userpool"
        )
        await poller.result()
        await admin.close()


async def test_a_force_deleted_machines_nodeclaim_is_collected_and_a_foreign_claim_is_not(
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    karpenter: KarpenterSimulator,
    sweeper_for: Callable[[OrphanSweepOptions], OrphanSweeper],
    eventually: Eventually,
    new_machine: Callable[..., Machine],
    until_machine: UntilMachine,
) -> None:
    await run_controller.start()
    await client.create(new_machine("kleak", provisioner="karpenter"))
    await until_machine("kleak", _ready)
    await _force_delete(client, "kleak", run_controller)
    foreign = {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodeClaim",
        "metadata": {"name": "default-abcde", "labels": {"karpenter.sh/nodepool": "default"}},
        "spec": {
            "nodeClassRef": {"group": "karpenter.azure.com", "kind": "AKSNodeClass", "name": "default"},
            "requirements": [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [GPU]}],
        },
    }
    await client.create(foreign)

    collected = await sweeper_for(OrphanSweepOptions(min_age=0.0)).sweep()
    assert [(o.provisioner, o.owned.name) for o in collected] == [("karpenter", nodeclaim_name("kleak"))]

    async def only_foreign_left() -> bool:
        return [c["metadata"]["name"] for c in _claims(cluster)] == ["default-abcde"]

    await eventually(only_foreign_left)
    assert len(await _orphan_events(client, "kleak")) == 1

    await client.delete(NODECLAIM, "default-abcde")

    async def no_claims() -> bool:
        return _claims(cluster) == [] and cluster.store.list("v1", "Node")[0] == []

    await eventually(no_claims)


@pytest.mark.parametrize("provisioner", ["aks", "karpenter"])
async def test_the_operators_sweep_collects_what_a_create_racing_a_delete_left_behind(
    provisioner: str,
    cluster: Cluster,
    client: ctrl.Client,
    run_controller: Any,
    aks_factory: Callable[..., AksProvisioner],
    eventually: Eventually,
    new_machine: Callable[..., Machine],
) -> None:
    """A create that raced a delete left the cloud resource with no Machine: the sweep, running on its own as
    the operator runs it (every 0.2 s, min age 0.5 s), removes the resource.
    """
    await run_controller.start()
    await client.create(new_machine("race-1", provisioner=provisioner))
    resource = _pool_of("race-1") if provisioner == "aks" else nodeclaim_name("race-1")

    def exists() -> bool:
        if provisioner == "aks":
            return resource in cluster.arm.pools()
        return any(c["metadata"]["name"] == resource for c in _claims(cluster))

    async def created() -> bool:
        return exists()

    await eventually(created)
    await _force_delete(client, "race-1", run_controller, restart=False)

    registry = ProvisionerRegistry([aks_factory(), KarpenterProvisioner(client)], default="aks")
    manager = ctrl.Manager(client, probe_port=None, graceful_shutdown_timeout=2.0)
    sweeper = add_orphan_sweeper(manager, registry, OrphanSweepOptions(interval=0.2, min_age=0.5))
    task = asyncio.create_task(manager.run())
    try:

        async def collected() -> bool:
            return not exists()

        await eventually(collected)
        assert [o.owned.machine for o in sweeper.collected] == ["race-1"]
        assert min(o.age for o in sweeper.collected) >= 0.5
    finally:
        manager.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await registry.close()

    async def no_nodes() -> bool:
        return cluster.store.list("v1", "Node")[0] == []

    await eventually(no_nodes)
