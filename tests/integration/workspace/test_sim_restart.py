"""A crash of the whole installation: the cluster and the operator stop together and start again (issue 3).

The `restartable` fixture runs kaito.sim on a snapshot file, under RBAC over TLS like this folder's
`operator` fixture, with the operator built by the conftest's `Harness`. `crash()` stops the cluster where it
stands (its snapshot keeps the store and the ARM endpoint's pools and operations) and kills the operator
without a graceful shutdown; `start()` starts a new cluster on the same snapshot, which listens on new ports
with a new CA: the operator follows it as a restarted pod would, by reading the rewritten kubeconfig (a new
ServiceAccount token) and the new ARM url and CA.

The test asserts what a user sees across the restart: the Machine and agent pool made before the crash are
found again, not made twice; the pool that was still Creating finishes; the Workspace succeeds; a second
crash after convergence changes no Node name; deleting the Workspace then leaves nothing behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from integration.workspace import conftest as support
from kaito import ctrl
from kaito.controllers.operator import Operator, OperatorConfig, build_operator
from kaito.controllers.workspace import WorkspaceControllerOptions
from kaito.provisioners.aks import AksConfig, StaticTokenCredential
from kaito.sim.cloud.arm.server import ArmServer
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration


PHI3 = "workspace-phi-3-mini"
WITHIN = 15.0  # seconds; below the controller's 30 s recheck, so only events can make the test pass
SIM_OPTIONS: dict[str, Any] = {
    **support.rbac.RBAC_SIM_OPTIONS,
    "karpenter": True,
    "karpenter_options": {"launch_s": 0.2, "register_s": 0.1, "ready_s": 0.1, "termination_s": 0.1},
}


class Restartable:
    """One installation (cluster + operator) that can crash and start again on its snapshot file."""

    def __init__(self, directory: Path) -> None:
        self.snapshot = directory / "sim.json"
        self.kubeconfig = directory / "kubeconfig"
        self.harness: Any = None  # the conftest's Harness for the running incarnation
        self.starts = 0
        self._stack: contextlib.AsyncExitStack | None = None

    @property
    def cluster(self) -> Cluster:
        cluster: Cluster = self.harness.cluster
        return cluster

    @property
    def arm(self) -> ArmServer:
        assert self.cluster.arm is not None
        return self.cluster.arm

    async def start(self, **arm_options: Any) -> Any:
        """Start the cluster on the snapshot, then a fresh operator that reads where it now listens."""
        assert self._stack is None, "already running"
        stack = contextlib.AsyncExitStack()
        try:
            cluster = await stack.enter_async_context(
                Cluster(
                    **SIM_OPTIONS,
                    snapshot_path=self.snapshot,
                    kubeconfig_path=self.kubeconfig,
                    arm_options=arm_options,
                )
            )
            user = await stack.enter_async_context(
                await ctrl.Client.from_kubeconfig(str(self.kubeconfig), field_manager="kubectl")
            )
            assert cluster.arm is not None
            self.harness = support.Harness(cluster, user, _builder(cluster.arm))
            stack.push_async_callback(self.harness.kill_operator)
            await self.harness.start_operator()
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self.starts += 1
        return self.harness

    async def crash(self) -> None:
        """The cluster stops where it stands (saving its snapshot), then the operator dies un-gracefully."""
        assert self._stack is not None, "not running"
        stack, self._stack = self._stack, None
        await self.cluster.stop()
        await stack.aclose()  # kills the operator (nothing in flight finishes), closes the admin client


def _builder(arm: ArmServer) -> Any:
    aks = AksConfig(
        subscription_id=arm.ids.subscription_id,
        resource_group=arm.ids.resource_group,
        cluster_name=arm.ids.cluster_name,
        base_url=arm.url,
        connection_verify=arm.ca_path,
        client_options={"polling_interval": 0.05, "retry_backoff_factor": 0.01},
    )

    def build(client: ctrl.Client) -> Operator:
        return build_operator(
            client,
            OperatorConfig(
                aks=aks,
                aks_credential=StaticTokenCredential(),
                provisioner="aks",
                karpenter_node_class=("karpenter.azure.com", "AKSNodeClass", "default"),
                health_port=None,
                machine=support.FAST_MACHINES,
                workspace=WorkspaceControllerOptions(),
                webhook=support.rbac.WEBHOOK_OPTIONS,
            ),
        )

    return build


@pytest_asyncio.fixture
async def restartable(tmp_path: Path) -> AsyncIterator[Restartable]:
    installation = Restartable(tmp_path)
    try:
        yield installation
    finally:
        if installation._stack is not None:
            await installation.harness.stop_operator()
            await installation.crash()
    if installation.harness is not None:
        support.rbac.assert_no_denials(installation.cluster)


async def _state(harness: Any) -> dict[str, Any]:
    """What a user counts: Machines (name -> uid and node), agent pools (name -> state), Node names."""
    machines = await harness.machines()
    return {
        "machines": {
            m["metadata"]["name"]: (m["metadata"]["uid"], (m.get("status") or {}).get("nodeName"))
            for m in machines
        },
        "pools": {
            name: pool["properties"]["provisioningState"]
            for name, pool in harness.cluster.arm.pools().items()
        },
        "nodes": sorted(n["metadata"]["name"] for n in await harness.list("v1", "Node", None)),
    }


async def test_a_crash_mid_provisioning_converges_once_and_deletes_cleanly(restartable: Restartable) -> None:
    # 1. Half-way: the Machine exists and its pool is Creating (provisioning is slow) when everything stops.
    harness = await restartable.start(provisioning_s=600.0)
    await harness.apply_sample("workspace-phi-3-mini.yaml")

    async def pool_creating() -> bool:
        pools = restartable.arm.pools()
        return len(await harness.machines(PHI3)) == 1 and [
            p["properties"]["provisioningState"] for p in pools.values()
        ] == ["Creating"]

    await harness.eventually(pool_creating, within=WITHIN)
    ids = restartable.arm.ids
    before = await _state(harness)
    assert before["nodes"] == []
    await restartable.crash()

    # 2. Both start again from the snapshot (this cloud provisions fast): the same Machine and pool are found.
    harness = await restartable.start()
    assert restartable.arm.ids == ids
    restored = await _state(harness)
    # the same Machine objects (uids); the fresh operator may already have bound the Node by now
    assert {m: v[0] for m, v in restored["machines"].items()} == {
        m: v[0] for m, v in before["machines"].items()
    }
    assert restored["pools"].keys() == before["pools"].keys()
    assert set(restored["pools"].values()) <= {"Creating", "Succeeded"}  # never lost

    workspace = await harness.wait_condition(PHI3, "WorkspaceSucceeded", within=WITHIN)
    assert workspace["status"]["state"] == "Ready"
    converged = await _state(harness)
    (machine,) = converged["machines"]
    assert machine in before["machines"]  # no second Machine
    assert converged["machines"][machine][0] == before["machines"][machine][0]  # the same object (uid)
    assert converged["pools"] == dict.fromkeys(before["pools"], "Succeeded")  # exactly one pool per Machine
    node = converged["machines"][machine][1]
    assert converged["nodes"] == [node] == workspace["status"]["workerNodes"]

    # 3. A second crash after convergence changes nothing a user can see: same Nodes, still Succeeded.
    await restartable.crash()
    harness = await restartable.start()
    workspace = await harness.wait_condition(PHI3, "WorkspaceSucceeded", within=WITHIN)
    assert await _state(harness) == converged
    deployments = await harness.list("apps/v1", "Deployment")
    assert [d["metadata"]["name"] for d in deployments] == [PHI3]

    # 4. Deleting the Workspace leaves nothing: no Machine, pool, provisioned Node or workload.
    await harness.delete_workspace(PHI3, within=WITHIN)

    async def nothing_left() -> bool:
        state = await _state(harness)
        workloads = await harness.list("apps/v1", "Deployment")
        return state == {"machines": {}, "pools": {}, "nodes": []} and not workloads

    await harness.eventually(nothing_left, within=WITHIN)
    assert restartable.starts == 3
