"""`Cluster(karpenter=True)`: the embedded cluster runs the fake Karpenter, reachable over HTTP."""

from __future__ import annotations

import asyncio

import pytest

from kaito import ctrl
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

NODECLAIM = ctrl.GVK("karpenter.sh/v1", "NodeClaim")
CLAIM = {
    "apiVersion": "karpenter.sh/v1",
    "kind": "NodeClaim",
    "metadata": {"name": "ws0123456789", "labels": {"karpenter.sh/nodepool": "kaito"}},
    "spec": {
        "nodeClassRef": {"group": "karpenter.azure.com", "kind": "AKSNodeClass", "name": "default"},
        "requirements": [
            {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["Standard_NC6s_v3"]}
        ],
    },
}


async def test_a_nodeclaim_becomes_a_node_and_stopping_stops_karpenter() -> None:
    options = {"launch_s": 0.0, "register_s": 0.0, "ready_s": 0.0, "termination_s": 0.0}
    async with (
        Cluster(workloads=False, arm=False, karpenter=True, karpenter_options=options) as cluster,
        await ctrl.Client.from_kubeconfig(str(cluster.kubeconfig)) as client,
    ):
        assert cluster.karpenter is not None and cluster.karpenter.launch_s == 0.0
        await client.create(CLAIM)
        for _ in range(100):
            claim = await client.get(NODECLAIM, "ws0123456789")
            if (claim.get("status") or {}).get("nodeName"):
                break
            await asyncio.sleep(0.02)
        node = await client.get(ctrl.GVK("v1", "Node"), claim["status"]["nodeName"])
        assert node["metadata"]["labels"]["karpenter.sh/nodepool"] == "kaito"
    assert cluster.karpenter._unsubscribe is None  # no longer following the store


async def test_without_karpenter_nodeclaims_are_not_served() -> None:
    async with (
        Cluster(workloads=False, arm=False) as cluster,
        await ctrl.Client.from_kubeconfig(str(cluster.kubeconfig)) as client,
    ):
        assert cluster.karpenter is None
        with pytest.raises(ctrl.CtrlError):
            await client.list(NODECLAIM)
