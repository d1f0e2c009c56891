"""Fixtures for the Machine controller's integration tests: a kaito.sim cluster with its ARM endpoint and
the fake Karpenter, the Machine CRD installed, both provisioners (the real azure SDK over HTTPS for AKS,
NodeClaims through kaito.ctrl's Client for Karpenter), and a `run_controller` that starts a manager running
the Machine controller (stoppable mid-way, to play a crash and restart).

Every test ends with the leak check of the issue's "done when": Machines still present are deleted and must
go away through the controller, and then not one agent pool, NodeClaim or Node may be left.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from kaito import ctrl
from kaito.api.crd import MACHINE_CRD, custom_resource_definition
from kaito.api.machine import Machine, MachineSpec, WorkspaceReference
from kaito.api.meta import ObjectMeta
from kaito.controllers.machine import MACHINE, MachineControllerOptions, add_machine_controller
from kaito.provisioners.aks import AksConfig, AksProvisioner, StaticTokenCredential
from kaito.provisioners.base import ProvisionerRegistry
from kaito.provisioners.karpenter import KarpenterProvisioner
from kaito.sim.cloud.karpenter import KarpenterSimulator
from kaito.sim.cluster import Cluster

GPU = "Standard_NC24ads_A100_v4"
FAST = MachineControllerOptions(launch_timeout=60.0, poll_interval=0.1, retry_interval=0.1)


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {
        "workloads": False,
        "arm_options": {"provisioning_s": 0.3, "node_ready_after_s": 0.2, "retry_after_s": 0},
    }


async def eventually(condition: Callable[[], Awaitable[bool]], within: float = 15.0) -> None:
    """Await `condition()` every 50 ms until it holds; fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition still false after {within}s")


def aks_provisioner(cluster: Cluster, **config: Any) -> AksProvisioner:
    """An AKS provisioner pointed at the sim's ARM endpoint, as `kaito up` builds it."""
    arm = cluster.arm
    options = {"polling_interval": 0.05, "retry_backoff_factor": 0.01, **config.pop("client_options", {})}
    return AksProvisioner(
        AksConfig(
            subscription_id=arm.ids.subscription_id,
            resource_group=arm.ids.resource_group,
            cluster_name=arm.ids.cluster_name,
            base_url=arm.url,
            connection_verify=arm.ca_path,
            client_options=options,
            **config,
        ),
        StaticTokenCredential(),
    )


def new_machine(name: str, provisioner: str = "aks", instance_type: str = GPU) -> Machine:
    return Machine(
        metadata=ObjectMeta(name=name),
        spec=MachineSpec(
            instance_type=instance_type,
            provisioner=provisioner,  # type: ignore[arg-type]
            os_disk_size_gb=256,
            workspace_ref=WorkspaceReference(namespace="default", name="phi-3"),
        ),
    )


UntilMachine = Callable[..., Awaitable[Machine | None]]


async def read_machine(client: ctrl.Client, name: str) -> Machine | None:
    """The Machine `name`, or None when it does not exist."""
    try:
        return Machine.model_validate(await client.get(MACHINE, name))
    except ctrl.NotFound:
        return None


@pytest.fixture
def until_machine(client: ctrl.Client) -> UntilMachine:
    """`await until_machine(name, check, within=15.0)`: the Machine (None once gone) once `check` holds."""

    async def until(
        name: str, check: Callable[[Machine | None], bool], within: float = 15.0
    ) -> Machine | None:
        found: list[Machine | None] = [None]

        async def holds() -> bool:
            found[0] = await read_machine(client, name)
            return check(found[0])

        await eventually(holds, within)
        return found[0]

    return until


@pytest.fixture(name="eventually")
def eventually_fixture() -> Callable[..., Awaitable[None]]:
    """`await eventually(async_condition, within=15.0)`."""
    return eventually


@pytest.fixture(name="new_machine")
def new_machine_fixture() -> Callable[..., Machine]:
    """`new_machine(name, provisioner="aks", instance_type=GPU)`: a Machine for a Workspace default/phi-3."""
    return new_machine


@pytest.fixture
def aks_factory(cluster: Cluster) -> Callable[..., AksProvisioner]:
    """`aks_factory(**AksConfig fields)`: a fresh AKS provisioner for the cluster's ARM endpoint."""
    return lambda **config: aks_provisioner(cluster, **config)


@pytest_asyncio.fixture
async def client(cluster: Cluster) -> AsyncIterator[ctrl.Client]:
    async with await ctrl.Client.from_kubeconfig(str(cluster.kubeconfig), field_manager="kaito") as c:
        await c.create(custom_resource_definition(MACHINE_CRD))
        yield c


@pytest_asyncio.fixture
async def karpenter(cluster: Cluster) -> AsyncIterator[KarpenterSimulator]:
    simulator = KarpenterSimulator(
        cluster.store, launch_s=0.2, register_s=0.1, ready_s=0.1, termination_s=0.1
    )
    simulator.start()
    yield simulator
    simulator.stop()


class ControllerRunner:
    """Starts and stops managers running the Machine controller against one cluster."""

    def __init__(self, cluster: Cluster, client: ctrl.Client) -> None:
        self.cluster = cluster
        self.client = client
        self._running: list[tuple[ctrl.Manager, asyncio.Task[None], ProvisionerRegistry]] = []

    async def start(
        self, *, options: MachineControllerOptions = FAST, aks: AksProvisioner | None = None
    ) -> ProvisionerRegistry:
        registry = ProvisionerRegistry(
            [aks or aks_provisioner(self.cluster), KarpenterProvisioner(self.client)], default="aks"
        )
        manager = ctrl.Manager(
            self.client, probe_port=None, cache_sync_timeout=10.0, graceful_shutdown_timeout=2.0
        )
        add_machine_controller(manager, registry, options)
        task = asyncio.create_task(manager.run())
        self._running.append((manager, task, registry))
        await eventually(self._synced(manager, task), within=10.0)
        return registry

    @staticmethod
    def _synced(manager: ctrl.Manager, task: asyncio.Task[None]) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            if task.done():
                task.result()  # surface a start-up failure
            return manager.caches_synced

        return check

    async def stop(self) -> None:
        """Stop the newest manager (the process 'dies'); its provisioners' clients are closed."""
        manager, task, registry = self._running.pop()
        manager.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await registry.close()

    async def stop_all(self) -> None:
        while self._running:
            await self.stop()


@pytest_asyncio.fixture
async def run_controller(
    cluster: Cluster, client: ctrl.Client, karpenter: KarpenterSimulator
) -> AsyncIterator[ControllerRunner]:
    """Runs the controller; at the end deletes leftover Machines and asserts nothing is left in the cloud."""
    runner = ControllerRunner(cluster, client)
    yield runner
    try:
        leftovers = (await client.list(MACHINE)).items
        if leftovers:
            if not runner._running:
                await runner.start()
            for machine in leftovers:
                with contextlib.suppress(ctrl.NotFound):
                    await client.delete(MACHINE, machine["metadata"]["name"])

            async def machines_gone() -> bool:
                return not (await client.list(MACHINE)).items

            await eventually(machines_gone)
    finally:
        await runner.stop_all()
    assert cluster.arm.pools() == {}, "agent pools left behind"
    assert cluster.store.list("karpenter.sh/v1", "NodeClaim")[0] == [], "NodeClaims left behind"
    assert cluster.store.list("v1", "Node")[0] == [], "Nodes left behind"
