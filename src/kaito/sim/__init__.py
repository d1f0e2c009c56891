"""kaito.sim: an embedded Kubernetes cluster on loopback — API server, node/workload simulator, AKS endpoint.

It is a cluster, not a test double of kaito's code: real, unmodified clients (kubectl, kubernetes-asyncio,
the synchronous `kubernetes` client, the Azure SDK) talk to it over HTTP(S), and it knows nothing of the
operator. The usual entry point is `Cluster`:

    async with Cluster() as cluster:
        print(cluster.kubeconfig)   # point kubectl at it

Layers, bottom up:
- `store` (objects, resourceVersions, watches, admission, patches) and `gc` (owner references, namespace
  deletion);
- `apiserver` (REST, watch streaming, discovery, Table printing, faults), `authz` (optional RBAC),
  `proxy` (the services/pods proxy); `webhook_writes` puts `conversion` (CRD conversion webhooks) and
  `admission` (Validating/MutatingWebhookConfigurations) around the store's writes, both calling webhooks
  through `webhook_calls` (a Service's Endpoints or a URL, over caBundle-verified HTTPS);
- `workloads`, the node and workload simulator: the `deployments`, `replicasets`, `statefulsets` and `jobs`
  controllers, the `scheduler`, and the `kubelet` running pods on nodes (`processes` optionally runs
  containers as real local processes);
- `arm` (AKS agentPools over HTTPS, creating Nodes) and `karpenter` (a fake Karpenter turning NodeClaims
  into Nodes);
- `cluster` assembles them.

This module re-exports the public face; everything else stays importable from its own module.
"""

from kaito.sim.apiserver import ApiServer
from kaito.sim.arm import DEFAULT_SUBSCRIPTION_ID, ArmServer
from kaito.sim.arm_faults import ArmFaults
from kaito.sim.authz import Authorization, ServiceAccountCredentials
from kaito.sim.cluster import Cluster
from kaito.sim.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    NotFound,
    TooManyRequests,
)
from kaito.sim.faults import Faults
from kaito.sim.gc import GarbageCollector
from kaito.sim.karpenter import NODECLAIM_API_VERSION, NODECLAIM_KIND, KarpenterSimulator, nodeclaim_crd
from kaito.sim.kubeconfig import kubeconfig_dict, write_kubeconfig
from kaito.sim.processes import ImageMapping, ProcessRuntime, ProcessRuntimeConfig
from kaito.sim.proxy import ServiceProxy
from kaito.sim.resources import BUILTIN_TYPES, ResourceRegistry, ResourceType
from kaito.sim.store import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, Store
from kaito.sim.tls import TlsBundle
from kaito.sim.vmsizes import VmSize, find_vm_size, vm_sizes
from kaito.sim.watch import Watch, WatchEvent
from kaito.sim.workloads import Timings, WorkloadSimulator

__all__ = [
    "APPLY_PATCH",
    "BUILTIN_TYPES",
    "DEFAULT_SUBSCRIPTION_ID",
    "JSON_PATCH",
    "MERGE_PATCH",
    "NODECLAIM_API_VERSION",
    "NODECLAIM_KIND",
    "STRATEGIC_MERGE_PATCH",
    "AlreadyExists",
    "ApiError",
    "ApiServer",
    "ArmFaults",
    "ArmServer",
    "Authorization",
    "BadRequest",
    "Cluster",
    "Conflict",
    "Faults",
    "Forbidden",
    "GarbageCollector",
    "Gone",
    "ImageMapping",
    "InternalError",
    "Invalid",
    "KarpenterSimulator",
    "NotFound",
    "ProcessRuntime",
    "ProcessRuntimeConfig",
    "ResourceRegistry",
    "ResourceType",
    "ServiceAccountCredentials",
    "ServiceProxy",
    "Store",
    "Timings",
    "TlsBundle",
    "TooManyRequests",
    "VmSize",
    "Watch",
    "WatchEvent",
    "WorkloadSimulator",
    "find_vm_size",
    "kubeconfig_dict",
    "nodeclaim_crd",
    "vm_sizes",
    "write_kubeconfig",
]
