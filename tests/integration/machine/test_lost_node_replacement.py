"""A Workspace whose GPU node is lost gets a new one (failure mode 10, end to end over HTTP).

The whole operator (Workspace and Machine controllers, both provisioners, the orphan sweep) runs on kaito.sim
with its workload simulator. Once the phi-3 Workspace is Ready, its Node is deleted from under it: the
Machine waits `node_lost_timeout`, fails with NodeLost and frees its pool or claim; the Workspace reports
the failure, replaces the Machine after `machine_retry_interval`, and is Ready again on a new Node. Deleting
the Workspace then leaves no Machine, pool, NodeClaim or Node.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from kaito import ctrl
from kaito.controllers.machine import MACHINE, MachineControllerOptions
from kaito.controllers.operator import Operator, OperatorConfig, build_operator, install_crds
from kaito.controllers.orphans import OrphanSweepOptions
from kaito.controllers.workspace import WORKSPACE, WorkspaceControllerOptions
from kaito.provisioners.aks import AksConfig, StaticTokenCredential
from kaito.sim.cloud.karpenter import KarpenterSimulator
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[3] / "manifests" / "samples" / "workspace-phi-3-mini.yaml"
Eventually = Callable[..., Awaitable[None]]


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"arm_options": {"provisioning_s": 0.3, "node_ready_after_s": 0.2, "retry_after_s": 0}}


@pytest_asyncio.fixture
async def start_operator(
    cluster: Cluster, client: ctrl.Client, karpenter: KarpenterSimulator
) -> AsyncIterator[Callable[[str], Awaitable[Operator]]]:
    running: list[tuple[Operator, asyncio.Task[None]]] = []

    async def start(provisioner: str) -> Operator:
        arm = cluster.arm
        await install_crds(client)
        operator = build_operator(
            client,
            OperatorConfig(
                provisioner=provisioner,  # type: ignore[arg-type]
                aks=AksConfig(
                    subscription_id=arm.ids.subscription_id,
                    resource_group=arm.ids.resource_group,
                    cluster_name=arm.ids.cluster_name,
                    base_url=arm.url,
                    connection_verify=arm.ca_path,
                    client_options={"polling_interval": 0.05, "retry_backoff_factor": 0.01},
                ),
                aks_credential=StaticTokenCredential(),
                karpenter_node_class=("karpenter.azure.com", "AKSNodeClass", "default"),
                health_port=None,
                machine=MachineControllerOptions(
                    launch_timeout=60.0, node_lost_timeout=1.0, poll_interval=0.1, retry_interval=0.1
                ),
                workspace=WorkspaceControllerOptions(recheck_interval=0.5, machine_retry_interval=0.5),
                orphans=OrphanSweepOptions(interval=0.5, min_age=0.0),
            ),
        )
        operator.manager.graceful_shutdown_timeout = 2.0
        running.append((operator, asyncio.create_task(operator.run())))
        return operator

    yield start
    for operator, task in running:
        operator.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


@pytest.mark.parametrize("provisioner", ["aks", "karpenter"])
async def test_a_workspace_whose_node_is_lost_is_ready_again_on_a_new_node(
    provisioner: str,
    cluster: Cluster,
    client: ctrl.Client,
    start_operator: Callable[[str], Awaitable[Operator]],
    eventually: Eventually,
) -> None:
    await start_operator(provisioner)
    workspace = yaml.safe_load(SAMPLE.read_text())
    workspace["metadata"]["namespace"] = "default"
    name = workspace["metadata"]["name"]
    await client.apply(workspace, force=True)

    async def ready_on_node() -> str | None:
        current = await client.get(WORKSPACE, name, "default")
        if _condition(current, "WorkspaceSucceeded").get("status") != "True":
            return None
        (machine,) = (await client.list(MACHINE)).items
        return str((machine.get("status") or {}).get("nodeName") or "") or None

    first: list[str] = []

    async def first_ready() -> bool:
        node = await ready_on_node()
        if node:
            first.append(node)
        return bool(node)

    await eventually(first_ready, within=30.0)
    lost = first[-1]
    lost_uid = (await client.get(ctrl.GVK("v1", "Node"), lost))["metadata"]["uid"]
    cluster.store.delete("v1", "Node", lost)

    failures: list[str] = []

    async def machine_failed_then_replaced() -> bool:
        machines = (await client.list(MACHINE)).items
        for machine in machines:
            reason = (machine.get("status") or {}).get("failureReason")
            if reason and reason not in failures:
                failures.append(reason)
        node = await ready_on_node()
        if node is None:
            return False
        try:  # the pool's name is the Machine's, so the new VM's Node may well have the old name
            return bool((await client.get(ctrl.GVK("v1", "Node"), node))["metadata"]["uid"] != lost_uid)
        except ctrl.NotFound:
            return False

    await eventually(machine_failed_then_replaced, within=30.0)
    assert failures == ["NodeLost"]
    events = (await client.list(ctrl.GVK("v1", "Event"), "default")).items
    reasons = {e["reason"] for e in events if e["involvedObject"].get("name") == name}
    assert "MachineReplaced" in reasons, reasons

    await client.delete(WORKSPACE, name, "default")

    async def nothing_left() -> bool:
        return (
            (await client.list(MACHINE)).items == []
            and cluster.arm.pools() == {}
            and cluster.store.list("karpenter.sh/v1", "NodeClaim")[0] == []
            and cluster.store.list("v1", "Node")[0] == []
        )

    await eventually(nothing_left, within=20.0)
