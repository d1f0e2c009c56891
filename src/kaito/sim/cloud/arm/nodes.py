"""What an AKS node of a given pool and VM size looks like in the API server (pure functions).

A pool is one VM scale set, ``aks-<pool>-<hash>-vmss``; instance ``n`` of it registers as Node
``aks-<pool>-<hash>-vmss<n in base 36, 6 digits>`` (``...-vmss000000``, ``...-vmss00000a``) with providerID
``azure:///subscriptions/<sub>/resourceGroups/<node rg, lower case>/providers/
Microsoft.Compute/virtualMachineScaleSets/<vmss>/virtualMachines/<n>``. ``<hash>`` is eight digits derived
from the cluster's id, so every pool of one cluster shares it, as on AKS.

Labels are those AKS and kubelet put on nodes (agentpool, kubernetes.azure.com/*, instance-type, os/arch,
topology region/zone, hostname), the pool's ``nodeLabels``, and for GPU sizes
``kubernetes.azure.com/accelerator=nvidia`` plus NVIDIA GPU feature-discovery labels
(``nvidia.com/gpu.product``/``.count``/``.memory`` in MiB per GPU,
``nvidia.com/cuda.compute.major``/``minor``). With a ``gpuInstanceProfile`` the GPUs are MIG devices
(single strategy): ``nvidia.com/gpu`` counts them and the product/memory labels describe one slice, as GPU
feature discovery reports them. Taints are the pool's ``nodeTaints`` plus
``node.kubernetes.io/not-ready:NoSchedule`` until Ready, as the node lifecycle controller does.

Capacity comes from the VM size; allocatable subtracts AKS's kube-reserved CPU (its published table),
kube-reserved memory (20 MiB per pod slot + 50 MiB, at most 25 %) and the 100 MiB hard eviction threshold, and
keeps 90 % of ephemeral storage (kubelet's nodefs.available 10 % eviction threshold).
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from typing import Any

from kaito.sim.cloud.arm.models import AgentPoolSpec, ClusterIds, parse_taint
from kaito.sim.cloud.vmsizes import VmSize, mig_slice

__all__ = [
    "NOT_READY_TAINT",
    "cluster_hash",
    "mark_ready",
    "new_node",
    "node_allocatable",
    "node_capacity",
    "node_labels",
    "node_name",
    "node_status",
    "node_taints",
    "provider_id",
    "vmss_name",
]

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
NODE_IMAGE = "AKSUbuntu-2204gen2containerd-202511.07.0"
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
# AKS kube-reserved CPU by core count (millicores); larger VMs grow by 10m per extra core past 64.
_CPU_RESERVED_M = ((1, 60), (2, 100), (4, 140), (8, 180), (16, 260), (32, 420), (64, 740))


def cluster_hash(ids: ClusterIds) -> str:
    """Eight decimal digits derived from the cluster's id (stable across runs and shared by its pools)."""
    digest = hashlib.sha256(ids.cluster_id.lower().encode()).digest()
    return f"{int.from_bytes(digest[:4], 'big') % 10**8:08d}"


def vmss_name(pool: str, ids: ClusterIds) -> str:
    return f"aks-{pool}-{cluster_hash(ids)}-vmss"


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _BASE36[rest] + digits
        if not number:
            return digits.rjust(6, "0")


def node_name(pool: str, ids: ClusterIds, instance: int) -> str:
    """The Node name of scale-set instance ``instance`` (computer name prefix + base-36 instance id)."""
    return f"{vmss_name(pool, ids)}{_base36(instance)}"


def provider_id(pool: str, ids: ClusterIds, instance: int) -> str:
    return (
        f"azure:///subscriptions/{ids.subscription_id}/resourceGroups/{ids.node_resource_group.lower()}"
        "/providers/Microsoft.Compute/virtualMachineScaleSets/"
        f"{vmss_name(pool, ids)}/virtualMachines/{instance}"
    )


def _zone(spec: AgentPoolSpec, ids: ClusterIds, instance: int) -> str:
    if not spec.availability_zones:
        return "0"  # a non-zonal scale set reports its fault domain
    return f"{ids.location}-{spec.availability_zones[instance % len(spec.availability_zones)]}"


def node_labels(
    pool: str, spec: AgentPoolSpec, size: VmSize, ids: ClusterIds, instance: int
) -> dict[str, str]:
    """Every label AKS (and GPU feature discovery, for GPU sizes) puts on the node."""
    name = node_name(pool, ids, instance)
    zone = _zone(spec, ids, instance)
    os_name = spec.os_type.lower()
    labels = {
        "agentpool": pool,
        "kubernetes.azure.com/agentpool": pool,
        "kubernetes.azure.com/cluster": ids.node_resource_group,
        "kubernetes.azure.com/mode": spec.mode.lower(),
        "kubernetes.azure.com/role": "agent",
        "kubernetes.azure.com/os-sku": spec.os_sku,
        "kubernetes.azure.com/node-image-version": NODE_IMAGE,
        "kubernetes.azure.com/nodepool-type": spec.pool_type,
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": os_name,
        "beta.kubernetes.io/instance-type": spec.vm_size,
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": os_name,
        "kubernetes.io/hostname": name,
        "node.kubernetes.io/instance-type": spec.vm_size,
        "topology.kubernetes.io/region": ids.location,
        "topology.kubernetes.io/zone": zone,
        "failure-domain.beta.kubernetes.io/region": ids.location,
        "failure-domain.beta.kubernetes.io/zone": zone,
        "storageprofile": "managed",
        "storagetier": "Premium_LRS",
    }
    if size.gpus and size.cuda_compute is not None:
        product, count, memory = str(size.gpu_product), size.gpus, size.gpu_memory_mib
        if spec.gpu_instance_profile is not None:
            mig = mig_slice(size, spec.gpu_instance_profile)
            product, count, memory = mig.product, size.gpus * mig.per_gpu, mig.memory_mib
            labels["nvidia.com/mig.strategy"] = "single"
        labels |= {
            "kubernetes.azure.com/accelerator": "nvidia",
            "nvidia.com/gpu.present": "true",
            "nvidia.com/gpu.product": product,
            "nvidia.com/gpu.count": str(count),
            "nvidia.com/gpu.memory": str(memory),
            "nvidia.com/cuda.compute.major": str(size.cuda_compute[0]),
            "nvidia.com/cuda.compute.minor": str(size.cuda_compute[1]),
        }
    return labels | spec.node_labels


def node_taints(spec: AgentPoolSpec, *, ready: bool, now: datetime.datetime) -> list[dict[str, str]]:
    """The pool's taints, plus the not-ready taint while the node is not Ready."""
    taints = [parse_taint(taint) for taint in spec.node_taints]
    if not ready:
        taints.append({"key": NOT_READY_TAINT, "effect": "NoSchedule", "timeAdded": _iso(now)})
    return taints


def _cpu_reserved_m(vcpus: int) -> int:
    reserved = _CPU_RESERVED_M[0][1]
    for cores, millicores in _CPU_RESERVED_M:
        if vcpus >= cores:
            reserved = millicores
    return reserved + max(0, vcpus - 64) * 10


def node_capacity(size: VmSize, spec: AgentPoolSpec, *, advertise_gpus: bool = True) -> dict[str, str]:
    """What the kubelet reports as capacity for this size (``nvidia.com/gpu`` from the device plugin)."""
    capacity = {
        "cpu": str(size.vcpus),
        "memory": f"{size.memory_mib * 1024}Ki",
        "ephemeral-storage": f"{spec.os_disk_size_gb * 1024 * 1024}Ki",
        "pods": str(spec.max_pods),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
    }
    if size.gpus and advertise_gpus:
        per_gpu = mig_slice(size, spec.gpu_instance_profile).per_gpu if spec.gpu_instance_profile else 1
        capacity["nvidia.com/gpu"] = str(size.gpus * per_gpu)
    return capacity


def node_allocatable(size: VmSize, spec: AgentPoolSpec, *, advertise_gpus: bool = True) -> dict[str, str]:
    """Capacity less AKS's kube-reserved CPU/memory and kubelet's eviction thresholds."""
    allocatable = node_capacity(size, spec, advertise_gpus=advertise_gpus)
    memory_reserved_mib = min(20 * spec.max_pods + 50, size.memory_mib // 4) + 100
    allocatable["cpu"] = f"{size.vcpus * 1000 - _cpu_reserved_m(size.vcpus)}m"
    allocatable["memory"] = f"{(size.memory_mib - memory_reserved_mib) * 1024}Ki"
    allocatable["ephemeral-storage"] = str(spec.os_disk_size_gb * 1024**3 * 9 // 10)
    return allocatable


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(kind: str, status: str, reason: str, message: str, now: datetime.datetime) -> dict[str, str]:
    stamp = _iso(now)
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": stamp,
        "lastTransitionTime": stamp,
    }


def new_node(
    pool: str, spec: AgentPoolSpec, size: VmSize, ids: ClusterIds, instance: int, now: datetime.datetime
) -> dict[str, Any]:
    """The Node object a freshly booted instance registers (metadata and spec; status comes separately)."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node_name(pool, ids, instance),
            "labels": node_labels(pool, spec, size, ids, instance),
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {
            "providerID": provider_id(pool, ids, instance),
            "taints": node_taints(spec, ready=False, now=now),
        },
    }


def node_status(
    spec: AgentPoolSpec,
    size: VmSize,
    ids: ClusterIds,
    *,
    name: str,
    internal_ip: str,
    now: datetime.datetime,
    advertise_gpus: bool = True,
) -> dict[str, Any]:
    """The status the kubelet posts right after registering: resources known, not yet Ready."""
    return {
        "capacity": node_capacity(size, spec, advertise_gpus=advertise_gpus),
        "allocatable": node_allocatable(size, spec, advertise_gpus=advertise_gpus),
        "conditions": [
            _condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
                now,
            ),
            _condition(
                "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now
            ),
            _condition(
                "PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", now
            ),
            _condition(
                "Ready",
                "False",
                "KubeletNotReady",
                "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                "message:Network plugin returns error: cni plugin not initialized",
                now,
            ),
        ],
        "addresses": [{"type": "InternalIP", "address": internal_ip}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "architecture": "amd64",
            "bootID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"boot/{name}")),
            "containerRuntimeVersion": "containerd://1.7.28-1",
            "kernelVersion": "5.15.0-1092-azure",
            "kubeProxyVersion": f"v{spec.orchestrator_version}",
            "kubeletVersion": f"v{spec.orchestrator_version}",
            "machineID": uuid.uuid5(uuid.NAMESPACE_URL, f"machine/{name}").hex,
            "operatingSystem": spec.os_type.lower(),
            "osImage": "Ubuntu 22.04.5 LTS",
            "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"vm/{ids.subscription_id}/{name}")),
        },
    }


def mark_ready(status: dict[str, Any], now: datetime.datetime) -> dict[str, Any]:
    """The same status with the Ready condition turned True (kubelet's 'kubelet is posting ready status')."""
    updated = dict(status)
    conditions = []
    for condition in status.get("conditions", []):
        if condition.get("type") == "Ready":
            condition = _condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", now)
        conditions.append(condition)
    updated["conditions"] = conditions
    return updated
