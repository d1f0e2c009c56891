"""Parsing and rendering the agentPool resource: AKS's defaults, validation codes and wire shape."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.cloud.arm.errors import ArmError
from kaito.sim.cloud.arm.models import (
    ClusterIds,
    parse_agent_pool,
    parse_taint,
    render_agent_pool,
    render_managed_cluster,
)

IDS = ClusterIds("sub-1", "rg", "aks", "eastus")


def _body(**properties: Any) -> dict[str, Any]:
    return {"properties": {"vmSize": "Standard_NC24ads_A100_v4", **properties}}


def test_defaults_are_akss() -> None:
    spec = parse_agent_pool("gpu", _body(), IDS)
    assert (spec.count, spec.mode, spec.pool_type, spec.os_type, spec.os_sku) == (
        1,
        "User",
        "VirtualMachineScaleSets",
        "Linux",
        "Ubuntu",
    )
    assert (spec.max_pods, spec.os_disk_size_gb, spec.orchestrator_version) == (110, 128, "1.32.7")


@pytest.mark.parametrize("name", ["a", "gpu1", "ws0123456789"[:12], "abcdefghijkl"])
def test_linux_pool_names_accepted(name: str) -> None:
    assert parse_agent_pool(name, _body(), IDS).vm_size == "Standard_NC24ads_A100_v4"


@pytest.mark.parametrize(
    ("name", "body", "status", "code", "fragment"),
    [
        ("Gpu", _body(), 400, "InvalidParameter", "Agent pool name 'Gpu'"),
        ("1gpu", _body(), 400, "InvalidParameter", "must start with a lowercase letter"),
        ("abcdefghijklm", _body(), 400, "InvalidParameter", "at most 12 characters"),
        ("gpu-1", _body(), 400, "InvalidParameter", "agentPoolProfile.name"),
        ("win1234", _body(osType="Windows"), 400, "InvalidParameter", "at most 6 characters for Windows"),
        ("gpu", _body(vmSize="Standard_NC999_v9"), 400, "BadRequest", "is not allowed in your subscription"),
        ("gpu", {"properties": {}}, 400, "InvalidParameter", "vmSize is required"),
        (
            "gpu",
            _body(count=-1),
            400,
            "InvalidParameter",
            "count is -1; a User pool needs between 0 and 1000",
        ),
        (
            "gpu",
            _body(count=0, mode="System"),
            400,
            "InvalidParameter",
            "a System pool needs between 1 and 1000",
        ),
        ("gpu", _body(count="many"), 400, "InvalidRequestContent", "'properties.count' is 'many'"),
        ("gpu", _body(osDiskSizeGB=10), 400, "InvalidParameter", "osDiskSizeGB is 10"),
        ("gpu", _body(maxPods=300), 400, "InvalidParameter", "maxPods is 300"),
        ("gpu", _body(nodeTaints=["sku=gpu"]), 400, "InvalidParameter", "taint 'sku=gpu' is not of the form"),
        (
            "gpu",
            _body(nodeTaints=["sku=gpu:Sometimes"]),
            400,
            "InvalidParameter",
            "NoSchedule, PreferNoSchedule",
        ),
        ("gpu", _body(mode="Spare"), 400, "InvalidParameter", "mode 'Spare'"),
        ("gpu", _body(availabilityZones=["4"]), 400, "InvalidParameter", "availability zone '4'"),
        ("gpu", _body(gpuInstanceProfile="MIG5g"), 400, "InvalidParameter", "gpuInstanceProfile 'MIG5g'"),
        (
            "gpu",
            _body(vmSize="Standard_NV36ads_A10_v5", gpuInstanceProfile="MIG1g"),
            400,
            "InvalidParameter",
            "Standard_NV36ads_A10_v5 does not support MIG",
        ),
        ("gpu", [], 400, "InvalidRequestContent", "must be a JSON object"),
        ("gpu", {"properties": []}, 400, "InvalidRequestContent", "'properties' is list"),
    ],
)
def test_refusals_carry_akss_code_and_name_the_value(
    name: str, body: Any, status: int, code: str, fragment: str
) -> None:
    with pytest.raises(ArmError) as caught:
        parse_agent_pool(name, body, IDS)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("text", "taint"),
    [
        ("sku=gpu:NoSchedule", {"key": "sku", "value": "gpu", "effect": "NoSchedule"}),
        ("nvidia.com/gpu:NoExecute", {"key": "nvidia.com/gpu", "effect": "NoExecute"}),
        ("k=:PreferNoSchedule", {"key": "k", "effect": "PreferNoSchedule"}),
    ],
)
def test_taint_strings_become_kubernetes_taints(text: str, taint: dict[str, str]) -> None:
    assert parse_taint(text) == taint


def test_render_echoes_unknown_properties_drops_read_only_ones_and_reports_errors() -> None:
    spec = parse_agent_pool(
        "gpu",
        _body(
            gpuInstanceProfile="MIG1g",
            provisioningState="Succeeded",
            nodeTaints=["sku=gpu:NoSchedule"],
            nodeLabels={"kaito.sh/workspace": "ws"},
            tags={"owner": "kaito"},
        ),
        IDS,
    )
    body = render_agent_pool(
        IDS,
        "gpu",
        spec,
        provisioning_state="Failed",
        etag="e1",
        error={"code": "QuotaExceeded", "message": "m"},
    )
    assert body["id"] == (
        "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks"
        "/agentPools/gpu"
    )
    assert body["type"] == "Microsoft.ContainerService/managedClusters/agentPools"
    props = body["properties"]
    assert props["gpuInstanceProfile"] == "MIG1g"
    assert props["provisioningState"] == "Failed"
    assert props["eTag"] == "e1"
    assert props["status"] == {"provisioningError": {"code": "QuotaExceeded", "message": "m"}}
    assert (props["nodeTaints"], props["nodeLabels"], props["tags"]) == (
        ["sku=gpu:NoSchedule"],
        {"kaito.sh/workspace": "ws"},
        {"owner": "kaito"},
    )


def test_managed_cluster_names_its_node_resource_group_and_pools() -> None:
    spec = parse_agent_pool("gpu", _body(count=2), IDS)
    cluster = render_managed_cluster(IDS, {"gpu": spec})
    assert cluster["properties"]["nodeResourceGroup"] == "MC_rg_aks_eastus"
    assert cluster["properties"]["agentPoolProfiles"][0]["count"] == 2
