"""kaito.sim: an embedded Kubernetes cluster on loopback — API server, node/workload simulator, AKS endpoint.

It is a cluster, not a test double of kaito's code: real, unmodified clients (kubectl, kubernetes-asyncio,
the synchronous `kubernetes` client, the Azure SDK) talk to it over HTTP(S), and it knows nothing of the
operator. The usual entry point is `Cluster`:

    async with Cluster() as cluster:
        print(cluster.kubeconfig)   # point kubectl at it

Rooms, bottom up (import contracts keep them in this order):
- `kaito.sim.server`: the API server — store (generic core, per-kind strategies, persistence hook), watches,
  admission and CRD conversion webhooks, patches, discovery, printing, RBAC, the services/pods proxy;
- `kaito.sim.workloads`: workload controllers, scheduler, kubelet (optionally running real processes),
  garbage collector; and `kaito.sim.cloud`: the AKS ARM endpoint, a fake Karpenter, the VM size catalogue;
- `cluster` assembles them; `__main__` is `kaito sim up`.

This module exports what a user of the embedded cluster needs: the cluster and its options, kubeconfig
writing, the fault knobs. Everything else is exported by its room.
"""

from __future__ import annotations

from kaito.sim.cloud.arm.faults import ArmFaults, QuotaLimit
from kaito.sim.cloud.arm.server import DEFAULT_SUBSCRIPTION_ID
from kaito.sim.cloud.karpenter import NODECLAIM_API_VERSION, NODECLAIM_KIND
from kaito.sim.cluster import Cluster
from kaito.sim.server.authz import ServiceAccountCredentials
from kaito.sim.server.errors import ApiError
from kaito.sim.server.faults import Faults, Match
from kaito.sim.server.kubeconfig import kubeconfig_dict, write_kubeconfig
from kaito.sim.workloads.kubelet import Timings
from kaito.sim.workloads.processes import ImageMapping, ProcessRuntimeConfig

__all__ = [
    "DEFAULT_SUBSCRIPTION_ID",
    "NODECLAIM_API_VERSION",
    "NODECLAIM_KIND",
    "ApiError",
    "ArmFaults",
    "Cluster",
    "Faults",
    "ImageMapping",
    "Match",
    "ProcessRuntimeConfig",
    "QuotaLimit",
    "ServiceAccountCredentials",
    "Timings",
    "kubeconfig_dict",
    "write_kubeconfig",
]
