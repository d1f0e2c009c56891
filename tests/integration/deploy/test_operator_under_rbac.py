"""The operator as the manifests' ServiceAccount, with kaito.sim enforcing RBAC: a full phi-3 lifecycle.

The `rbac_operator` fixture fails the test if the operator was refused any request, so this proves that
manifests/rbac grants everything the Workspace and Machine controllers and leader election use on that path.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito import ctrl

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "samples"
WORKSPACE = ("kaito.sh/v1beta1", "Workspace")
MACHINE = ("kaito.sh/v1beta1", "Machine")
LEASE = ("coordination.k8s.io/v1", "Lease")


async def test_phi3_lifecycle_under_the_manifests_rbac_leaves_nothing_behind(rbac_operator: Any) -> None:
    admin: ctrl.Client = rbac_operator.admin
    cluster = rbac_operator.cluster
    name = "workspace-phi-3-mini"
    sample = yaml.safe_load((SAMPLES / "workspace-phi-3-mini.yaml").read_text())
    sample["metadata"]["namespace"] = "default"
    await admin.apply(sample)

    workspace = await rbac_operator.wait_condition(name, "WorkspaceSucceeded", within=30.0)
    assert workspace["status"]["state"] == "Ready"
    (machine,) = (await admin.list(MACHINE)).items
    assert workspace["status"]["workerNodes"] == [machine["status"]["nodeName"]]
    assert len(cluster.arm.pools()) == 1
    deployment = await admin.get(("apps/v1", "Deployment"), name, "default")
    assert deployment["metadata"]["managedFields"][0]["manager"] == "kaito"
    service = await admin.get(("v1", "Service"), name, "default")
    assert service["spec"]["ports"][0]["port"] == 80
    # the operator wrote status and events, and leads through its Lease, all as the ServiceAccount
    lease = await admin.get(LEASE, "kaito-operator", "kaito-system")
    assert lease["spec"]["holderIdentity"]
    events = (await admin.list(("v1", "Event"), "default")).items
    assert any(e["involvedObject"].get("name") == name for e in events)

    await admin.delete(WORKSPACE, name, "default")

    async def nothing_left() -> bool:
        for kind, namespace in (
            (WORKSPACE, "default"),
            (MACHINE, None),
            (("apps/v1", "Deployment"), "default"),
            (("v1", "Service"), "default"),
        ):
            with contextlib.suppress(ctrl.NotFound):
                if (await admin.list(kind, namespace)).items:
                    return False
        provisioned = [
            n for n in cluster.store.list("v1", "Node")[0] if n["metadata"]["name"].startswith("aks-")
        ]
        return not provisioned and cluster.arm.pools() == {}

    await rbac_operator.eventually(nothing_left, within=30.0)
    assert cluster.authorization.denials == []
