"""An instance type KAITO accepts but kaito's SKU table lacks, resolved through ARM's resource SKUs."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _workspace(name: str, instance_type: str) -> dict[str, Any]:
    return {
        "apiVersion": "kaito.sh/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": name, "namespace": "default"},
        "resource": {"instanceType": instance_type, "labelSelector": {"matchLabels": {"a": name}}},
        "inference": {"preset": {"name": "phi-4-mini-instruct"}},
    }


async def test_unlisted_n_series_size_is_read_from_resource_skus_and_served(operator: Any) -> None:
    name = "phi-ncc"
    await operator.apply(_workspace(name, "Standard_NCC40ads_H100_v5"))
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded")
    assert workspace["status"]["targetNodeCount"] == 1
    (pool,) = operator.cluster.arm.pools().values()
    assert pool["properties"]["vmSize"] == "Standard_NCC40ads_H100_v5"
    planned = [e["message"] for e in await operator.events(name) if e["reason"] == "Planned"]
    assert planned and "Standard_NCC40ads_H100_v5" in planned[0]


async def test_an_n_series_size_the_cloud_does_not_have_is_refused_by_name(operator: Any) -> None:
    name = "phi-nope"
    await operator.apply(_workspace(name, "Standard_NC99ads_Z900_v9"))
    workspace = await operator.wait_condition(name, "WorkspaceSucceeded", status="False")
    message = operator.condition_of(workspace, "WorkspaceSucceeded")["message"]
    assert message.startswith("resource.instanceType: Instance type 'Standard_NC99ads_Z900_v9' is not in")
