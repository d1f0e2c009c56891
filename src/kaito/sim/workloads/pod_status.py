"""What kubelet reports for a pod, as pure functions: phase, conditions, container statuses, QoS class.

:class:`ContainerRun` is what the kubelet knows of one container (its state, reason, times, exit code,
readiness, restarts); :func:`pod_status` turns a pod's records into the ``status`` kubelet would write, with
kubelet's own rules (``getPhase`` in :func:`pod_phase`, ``GeneratePodReadyCondition``...), keeping the
scheduler's PodScheduled condition and the previous transition times of conditions that did not change.
No I/O and no clock: the caller passes ``now``. :mod:`kaito.sim.workloads.kubelet` is the async shell.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kaito.sim.workloads.scheduler import parse_quantity

__all__ = ["ContainerRun", "pod_phase", "pod_status", "qos_class"]


@dataclass
class ContainerRun:
    """What the kubelet knows of one container; :func:`pod_status` turns it into a ``containerStatus``."""

    name: str
    image: str
    init: bool = False
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"  # waiting reason, or terminated reason
    message: str = ""
    started_at: str = ""
    finished_at: str = ""
    exit_code: int = 0
    ready: bool = False
    restart_count: int = 0
    container_id: str = ""
    last_terminated: dict[str, Any] | None = None

    def status(self) -> dict[str, Any]:
        """The ``ContainerStatus`` dict kubelet would report."""
        state: dict[str, Any]
        if self.state == "running":
            state = {"running": {"startedAt": self.started_at}}
        elif self.state == "terminated":
            state = {"terminated": self._terminated()}
        else:
            waiting: dict[str, Any] = {"reason": self.reason}
            if self.message:
                waiting["message"] = self.message
            state = {"waiting": waiting}
        result: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": _image_id(self.image) if self.container_id else "",
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": self.state == "running",
            "state": state,
            "lastState": {"terminated": self.last_terminated} if self.last_terminated else {},
        }
        if self.container_id:
            result["containerID"] = self.container_id
        return result

    def _terminated(self) -> dict[str, Any]:
        terminated: dict[str, Any] = {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "containerID": self.container_id,
        }
        if self.message:
            terminated["message"] = self.message
        return terminated

    @property
    def succeeded(self) -> bool:
        return self.state == "terminated" and self.exit_code == 0


def _image_id(image: str) -> str:
    """A containerd-style image ID: the fully qualified repository and a digest (made up, but stable)."""
    digest = hashlib.sha256(image.encode()).hexdigest()
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    return f"{name}@sha256:{digest}"


def pod_phase(restart_policy: str, init: list[ContainerRun], main: list[ContainerRun]) -> str:
    """kubelet's ``getPhase``: Pending while initialising or any container waits for its first start."""
    if any(c.state == "terminated" and c.exit_code != 0 for c in init) and restart_policy == "Never":
        return "Failed"
    if not all(c.succeeded for c in init):
        return "Pending"
    running = stopped = succeeded = waiting = 0
    for c in main:
        if c.state == "running":
            running += 1
        elif c.state == "terminated":
            stopped += 1
            succeeded += c.exit_code == 0
        elif c.last_terminated is not None:
            stopped += 1  # waiting to restart after a previous run
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if stopped:
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _condition(
    previous: Mapping[str, Mapping[str, Any]],
    kind: str,
    ok: bool,
    now: str,
    reason: str = "",
    message: str = "",
) -> dict[str, Any]:
    status = "True" if ok else "False"
    before = previous.get(kind)
    since = before.get("lastTransitionTime", now) if before and before.get("status") == status else now
    condition: dict[str, Any] = {
        "type": kind,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": since,
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _names(containers: list[ContainerRun]) -> str:
    return "[" + " ".join(c.name for c in containers) + "]"


def qos_class(pod_spec: Mapping[str, Any]) -> str:
    """Guaranteed (cpu and memory limited everywhere, requests equal), BestEffort (nothing set), Burstable."""
    containers = list(pod_spec.get("containers") or []) + list(pod_spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for container in containers:
        resources = container.get("resources") or {}
        limits = resources.get("limits") or {}
        requests = {**limits, **(resources.get("requests") or {})}
        any_set = any_set or bool(limits) or bool(requests)
        for name in ("cpu", "memory"):
            if name not in limits or parse_quantity(requests[name]) != parse_quantity(limits[name]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def pod_status(
    previous: Mapping[str, Any],
    *,
    restart_policy: str,
    init: list[ContainerRun],
    main: list[ContainerRun],
    host_ip: str,
    pod_ip: str,
    start_time: str,
    qos: str,
    now: str,
    phase: str | None = None,
    reason: str = "",
    message: str = "",
) -> dict[str, Any]:
    """The pod ``status`` kubelet would write; ``previous`` supplies PodScheduled and old transition times."""
    phase = phase or pod_phase(restart_policy, init, main)
    before = {c.get("type", ""): c for c in previous.get("conditions") or []}
    incomplete = [c for c in init if not c.succeeded]
    unready = [c for c in main if not c.ready]
    conditions = [_condition(before, "PodReadyToStartContainers", True, now)]
    if phase == "Succeeded" and not incomplete:
        conditions.append(_condition(before, "Initialized", True, now, "PodCompleted"))
    elif incomplete:
        why = f"containers with incomplete status: {_names(incomplete)}"
        conditions.append(_condition(before, "Initialized", False, now, "ContainersNotInitialized", why))
    else:
        conditions.append(_condition(before, "Initialized", True, now))
    for kind in ("Ready", "ContainersReady"):
        if phase == "Succeeded":
            conditions.append(_condition(before, kind, False, now, "PodCompleted"))
        elif unready:
            why = f"containers with unready status: {_names(unready)}"
            conditions.append(_condition(before, kind, False, now, "ContainersNotReady", why))
        else:
            conditions.append(_condition(before, kind, True, now))
    if "PodScheduled" in before:
        conditions.append(dict(before["PodScheduled"]))
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": start_time,
        "containerStatuses": [c.status() for c in main],
        "qosClass": qos,
    }
    if init:
        status["initContainerStatuses"] = [c.status() for c in init]
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    return status
