"""kaito.sim.workloads: what kube-controller-manager, kube-scheduler and the kubelets do, against the server.

:class:`~.simulator.WorkloadSimulator` assembles the workload controllers (:mod:`.deployments`,
:mod:`.replicasets`, :mod:`.statefulsets`, :mod:`.jobs` on :mod:`.workload_controller`), the :mod:`.scheduler`
(over the node and requested-resource cache of :mod:`.scheduler_cache`)
and the :mod:`.kubelet` (pure status rules in :mod:`.pod_status`; real local processes in :mod:`.processes`).
:class:`~.gc.GarbageCollector` follows ownerReferences and empties deleted namespaces. Everything here talks
to :class:`kaito.sim.server.Store`; nothing imports :mod:`kaito.sim.cloud`.
"""

from __future__ import annotations

from kaito.sim.workloads.gc import GarbageCollector
from kaito.sim.workloads.kubelet import Kubelet, Timings
from kaito.sim.workloads.processes import ImageMapping, ProcessRuntime, ProcessRuntimeConfig
from kaito.sim.workloads.recorder import EventRecorder
from kaito.sim.workloads.simulator import WorkloadSimulator

__all__ = [
    "EventRecorder",
    "GarbageCollector",
    "ImageMapping",
    "Kubelet",
    "ProcessRuntime",
    "ProcessRuntimeConfig",
    "Timings",
    "WorkloadSimulator",
]
