"""kaito.sim.cloud: where GPU nodes come from — the AKS ARM endpoint (:mod:`.arm`), a fake Karpenter
(:mod:`.karpenter`: NodeClaims turned into Nodes) and the Azure VM size catalogue (:mod:`.vmsizes`).

Both make Nodes through :class:`kaito.sim.server.Store`; nothing here imports :mod:`kaito.sim.workloads`.
"""

from __future__ import annotations

from kaito.sim.cloud.arm import DEFAULT_SUBSCRIPTION_ID, ArmFaults, ArmServer, QuotaLimit
from kaito.sim.cloud.karpenter import NODECLAIM_API_VERSION, NODECLAIM_KIND, KarpenterSimulator, nodeclaim_crd
from kaito.sim.cloud.vmsizes import VmSize, find_vm_size, vm_sizes

__all__ = [
    "DEFAULT_SUBSCRIPTION_ID",
    "NODECLAIM_API_VERSION",
    "NODECLAIM_KIND",
    "ArmFaults",
    "ArmServer",
    "KarpenterSimulator",
    "QuotaLimit",
    "VmSize",
    "find_vm_size",
    "nodeclaim_crd",
    "vm_sizes",
]
