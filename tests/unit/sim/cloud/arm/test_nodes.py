"""What a simulated AKS node looks like: names, providerID, labels, taints, capacity and allocatable."""

from __future__ import annotations

import datetime

import pytest

from kaito.sim.cloud.arm.models import ClusterIds, parse_agent_pool
from kaito.sim.cloud.arm.nodes import (
    cluster_hash,
    mark_ready,
    new_node,
    node_allocatable,
    node_capacity,
    node_name,
    node_status,
    provider_id,
)
from kaito.sim.cloud.vmsizes import find_vm_size

IDS = ClusterIds("sub-1", "rg", "aks", "eastus")
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def _spec(vm_size: str = "Standard_NC24ads_A100_v4", **properties: object):  # type: ignore[no-untyped-def]
    return parse_agent_pool("gpu", {"properties": {"vmSize": vm_size, **properties}}, IDS)


def _size(name: str = "Standard_NC24ads_A100_v4"):  # type: ignore[no-untyped-def]
    size = find_vm_size(name)
    assert size is not None
    return size


@pytest.mark.parametrize(
    ("instance", "suffix"), [(0, "000000"), (9, "000009"), (10, "00000a"), (36, "000010")]
)
def test_node_names_are_vmss_computer_names_in_base_36(instance: int, suffix: str) -> None:
    digits = cluster_hash(IDS)
    assert len(digits) == 8 and digits.isdigit()
    assert node_name("gpu", IDS, instance) == f"aks-gpu-{digits}-vmss{suffix}"


def test_every_pool_of_a_cluster_shares_the_hash_and_other_clusters_differ() -> None:
    assert node_name("a", IDS, 0).split("-")[2] == node_name("b", IDS, 0).split("-")[2]
    assert cluster_hash(IDS) != cluster_hash(ClusterIds("sub-1", "rg", "other", "eastus"))


def test_provider_id_points_at_the_scale_set_vm_in_the_node_resource_group() -> None:
    assert provider_id("gpu", IDS, 3) == (
        "azure:///subscriptions/sub-1/resourceGroups/mc_rg_aks_eastus/providers/Microsoft.Compute/"
        f"virtualMachineScaleSets/aks-gpu-{cluster_hash(IDS)}-vmss/virtualMachines/3"
    )


def test_gpu_node_has_akss_and_gpu_feature_discovery_labels_and_the_pools_own() -> None:
    node = new_node("gpu", _spec(nodeLabels={"kaito.sh/workspace": "ws"}), _size(), IDS, 0, NOW)
    labels = node["metadata"]["labels"]
    expected = {
        "agentpool": "gpu",
        "kubernetes.azure.com/agentpool": "gpu",
        "kubernetes.azure.com/cluster": "MC_rg_aks_eastus",
        "kubernetes.azure.com/mode": "user",
        "kubernetes.azure.com/accelerator": "nvidia",
        "node.kubernetes.io/instance-type": "Standard_NC24ads_A100_v4",
        "beta.kubernetes.io/instance-type": "Standard_NC24ads_A100_v4",
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": node["metadata"]["name"],
        "topology.kubernetes.io/region": "eastus",
        "topology.kubernetes.io/zone": "0",
        "nvidia.com/gpu.product": "NVIDIA-A100-80GB-PCIe",
        "nvidia.com/gpu.count": "1",
        "nvidia.com/gpu.memory": "81920",
        "nvidia.com/cuda.compute.major": "8",
        "nvidia.com/cuda.compute.minor": "0",
        "kaito.sh/workspace": "ws",
    }
    assert labels.items() >= expected.items()


def test_mig_pool_nodes_advertise_mig_devices() -> None:
    spec, size = (
        _spec("Standard_NC48ads_A100_v4", gpuInstanceProfile="MIG1g"),
        _size("Standard_NC48ads_A100_v4"),
    )
    labels = new_node("gpu", spec, size, IDS, 0, NOW)["metadata"]["labels"]
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-A100-80GB-PCIe-MIG-1g.10gb"
    assert (labels["nvidia.com/gpu.count"], labels["nvidia.com/gpu.memory"]) == ("14", "10240")
    assert labels["nvidia.com/mig.strategy"] == "single"
    assert (
        node_capacity(size, spec)["nvidia.com/gpu"] == node_allocatable(size, spec)["nvidia.com/gpu"] == "14"
    )


def test_cpu_node_has_no_gpu_labels() -> None:
    node = new_node("cpu", _spec("Standard_D4s_v3"), _size("Standard_D4s_v3"), IDS, 0, NOW)
    assert not [key for key in node["metadata"]["labels"] if key.startswith("nvidia.com/")]
    assert "kubernetes.azure.com/accelerator" not in node["metadata"]["labels"]


@pytest.mark.parametrize(("instance", "zone"), [(0, "eastus-1"), (1, "eastus-2"), (2, "eastus-1")])
def test_zonal_pools_spread_instances_over_their_zones(instance: int, zone: str) -> None:
    node = new_node("gpu", _spec(availabilityZones=["1", "2"]), _size(), IDS, instance, NOW)
    assert node["metadata"]["labels"]["topology.kubernetes.io/zone"] == zone


def test_new_node_carries_pool_taints_and_not_ready_taint() -> None:
    node = new_node("gpu", _spec(nodeTaints=["sku=gpu:NoSchedule"]), _size(), IDS, 0, NOW)
    taints = node["spec"]["taints"]
    assert taints[0] == {"key": "sku", "value": "gpu", "effect": "NoSchedule"}
    assert taints[1]["key"] == "node.kubernetes.io/not-ready" and taints[1]["effect"] == "NoSchedule"


@pytest.mark.parametrize(
    ("vm_size", "cpu", "memory_ki", "gpus", "allocatable_cpu"),
    [
        ("Standard_NC24ads_A100_v4", "24", 220 * 1024 * 1024, "1", "23740m"),
        ("Standard_ND96asr_A100_v4", "96", 900 * 1024 * 1024, "8", "94940m"),
        ("Standard_D4s_v3", "4", 16 * 1024 * 1024, None, "3860m"),
    ],
)
def test_capacity_and_allocatable_follow_the_vm_size(
    vm_size: str, cpu: str, memory_ki: int, gpus: str | None, allocatable_cpu: str
) -> None:
    spec, size = _spec(vm_size), _size(vm_size)
    capacity = node_capacity(size, spec)
    allocatable = node_allocatable(size, spec)
    assert (capacity["cpu"], capacity["memory"], capacity.get("nvidia.com/gpu")) == (
        cpu,
        f"{memory_ki}Ki",
        gpus,
    )
    assert capacity["pods"] == allocatable["pods"] == "110"
    assert allocatable["cpu"] == allocatable_cpu
    reserved_mib = 20 * 110 + 50 + 100
    assert allocatable["memory"] == f"{memory_ki - reserved_mib * 1024}Ki"
    assert allocatable.get("nvidia.com/gpu") == gpus
    assert int(allocatable["ephemeral-storage"]) == 128 * 1024**3 * 9 // 10


def test_hidden_gpus_leave_no_gpu_resource() -> None:
    assert "nvidia.com/gpu" not in node_allocatable(_size(), _spec(), advertise_gpus=False)


def test_status_starts_not_ready_and_mark_ready_turns_only_ready_true() -> None:
    status = node_status(_spec(), _size(), IDS, name="n0", internal_ip="10.224.0.4", now=NOW)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "False" and conditions["Ready"]["reason"] == "KubeletNotReady"
    assert status["addresses"][0] == {"type": "InternalIP", "address": "10.224.0.4"}
    assert status["nodeInfo"]["kubeletVersion"] == "v1.32.7"
    later = NOW + datetime.timedelta(seconds=5)
    ready = {c["type"]: c for c in mark_ready(status, later)["conditions"]}
    assert ready["Ready"]["status"] == "True" and ready["Ready"]["reason"] == "KubeletReady"
    assert ready["Ready"]["lastTransitionTime"] == "2026-01-01T00:00:05Z"
    assert ready["MemoryPressure"] == conditions["MemoryPressure"]
