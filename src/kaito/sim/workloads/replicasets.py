"""The ReplicaSet controller: keeps ``spec.replicas`` pods of a ReplicaSet active, and counts them in status.

Pods are named ``<replicaset>-<5 chars>`` (``generateName``) and stamped from the ReplicaSet's template. Too
few active pods (not terminal, not being deleted): the missing ones are created; too many: the least valuable
go first, in kube's ActivePodsWithRanks order (:func:`_deletion_rank`: unscheduled, then Pending, then not
Ready, then the newest). Status counts the active pods, those carrying all the template's labels, the Ready
ones, and the available ones: Ready for at least ``minReadySeconds``, with a timer set for when a Ready pod
will become available.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from kaito.sim.server.errors import NotFound
from kaito.sim.server.objects import parse_time
from kaito.sim.workloads.pod_state import pod_is_active, pod_is_ready
from kaito.sim.workloads.replicas import spec_replicas
from kaito.sim.workloads.templates import pod_from_template
from kaito.sim.workloads.workload_controller import Key, WorkloadController

__all__ = ["ReplicaSetController"]


class ReplicaSetController(WorkloadController):
    """Creates and deletes a ReplicaSet's pods and writes its status; see the module docstring."""

    def sync(self, namespace: str, name: str) -> None:
        rs = self._get_live("apps/v1", "ReplicaSet", namespace, name, copy=False)  # read; status written anew
        if rs is None:
            return
        pods = self.index.owned("v1", "Pod", namespace, rs, copy=False)  # read, never written here
        active = [p for p in pods if pod_is_active(p)]
        desired = spec_replicas(rs)
        template = rs["spec"].get("template") or {}
        if len(active) < desired:
            for _ in range(desired - len(active)):
                body = pod_from_template(template, rs)
                body["metadata"]["generateName"] = f"{name}-"
                pod = self.store.create("v1", "Pod", body, namespace=namespace, copy=False)  # read only
                active.append(pod)
                message = f"Created pod: {pod['metadata']['name']}"
                self.recorder.event(
                    rs, "Normal", "SuccessfulCreate", message, component="replicaset-controller"
                )
        elif len(active) > desired:
            for pod in sorted(active, key=_deletion_rank)[: len(active) - desired]:
                with contextlib.suppress(NotFound):
                    self.store.delete("v1", "Pod", pod["metadata"]["name"], namespace)
                active.remove(pod)
                message = f"Deleted pod: {pod['metadata']['name']}"
                self.recorder.event(
                    rs, "Normal", "SuccessfulDelete", message, component="replicaset-controller"
                )
        template_labels = (template.get("metadata") or {}).get("labels") or {}
        min_ready = int(rs["spec"].get("minReadySeconds") or 0)
        ready = [p for p in active if pod_is_ready(p)]
        available = [p for p in ready if self._available(p, min_ready, ("ReplicaSet", namespace, name))]
        status = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(
                1 for p in active if template_labels.items() <= (p["metadata"].get("labels") or {}).items()
            ),
            "readyReplicas": len(ready),
            "availableReplicas": len(available),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        if status != (rs.get("status") or {}):
            body = {**rs, "status": status}
            self.store.update("apps/v1", "ReplicaSet", body, subresource="status", copy=False)

    def _available(self, pod: Mapping[str, Any], min_ready_s: int, key: Key) -> bool:
        """Ready for at least ``min_ready_s``; otherwise requeue ``key`` for when it will be."""
        if min_ready_s <= 0:
            return True
        since = next(
            (
                c.get("lastTransitionTime")
                for c in pod["status"].get("conditions") or []
                if c.get("type") == "Ready"
            ),
            None,
        )
        if since is None:
            return False
        remaining = (parse_time(since) + timedelta(seconds=min_ready_s) - self._clock()).total_seconds()
        if remaining <= 0:
            return True
        self._after(remaining, key)
        return False


def _deletion_rank(pod: Mapping[str, Any]) -> tuple[int, int, int, float]:
    """kube's ActivePodsWithRanks order: unscheduled, then Pending, then not ready, then the newest first."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", ""), 0)
    created = (pod.get("metadata") or {}).get("creationTimestamp")
    age_rank = -parse_time(created).timestamp() if created else 0.0
    return (1 if spec.get("nodeName") else 0, phase_rank, 1 if pod_is_ready(pod) else 0, age_rank)
