"""The Job controller: runs a Job's pods until enough succeed, or until it fails, then expires it.

Pods (``<job>-<5 chars>``, labelled ``job-name`` and ``controller-uid`` in both kube spellings, with
``restartPolicy: Never`` unless the template says otherwise) are created up to ``parallelism``: with
``completions``, never more than still needed; without, none once one has succeeded. A failed pod is
replaced only after kube's pod-failure back-off (``retry_backoff_s``, doubling per failure up to 2**10 times,
counted from the last failure) has passed.

A Job finishes once, and its outcome is kept:

- Failed, BackoffLimitExceeded: more failed pods than ``backoffLimit`` (6 by default), container restarts
  counted too when the pods restart OnFailure;
- Failed, DeadlineExceeded: active longer than ``activeDeadlineSeconds`` since ``startTime`` (a timer wakes
  the Job at its deadline);
- Complete: ``completions`` pods succeeded, or, without ``completions``, one did and none is still active.

A finished or suspended Job's active pods are deleted; a Suspended condition records suspending and resuming.
``ttlSecondsAfterFinished`` deletes a finished Job (in the background) that long after it finished.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from kaito.sim.server.errors import NotFound
from kaito.sim.server.objects import clone, format_time, parse_time
from kaito.sim.workloads.conditions import set_condition
from kaito.sim.workloads.ownership import owned_by
from kaito.sim.workloads.pod_state import pod_is_active, pod_is_ready
from kaito.sim.workloads.templates import pod_from_template
from kaito.sim.workloads.workload_controller import ControllerContext, WorkloadController

__all__ = ["JobController"]


class JobController(WorkloadController):
    """Runs Jobs' pods, decides their outcome and expires them; see the module docstring."""

    def __init__(self, context: ControllerContext, *, retry_backoff_s: float) -> None:
        super().__init__(context)
        self._retry_backoff_s = retry_backoff_s

    def sync(self, namespace: str, name: str) -> None:
        job = self._get_live("batch/v1", "Job", namespace, name)
        if job is None:
            return
        spec = job["spec"]
        previous = job.get("status") or {}
        conditions = [clone(c) for c in previous.get("conditions") or []]
        finished = any(
            c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions
        )
        pods = owned_by(self.store.list("v1", "Pod", namespace)[0], job)
        active = [p for p in pods if pod_is_active(p)]
        succeeded = sum(1 for p in pods if p["status"].get("phase") == "Succeeded")
        failed = sum(1 for p in pods if p["status"].get("phase") == "Failed")
        now = self._clock()
        stamp = format_time(now)
        status: dict[str, Any] = {k: v for k, v in previous.items() if k in ("startTime", "completionTime")}
        if finished:
            self._schedule_ttl(job, previous)
            return
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1))
        backoff_limit = int(spec.get("backoffLimit", 6))
        suspended = bool(spec.get("suspend"))
        restarts = sum(
            int(cs.get("restartCount") or 0)
            for p in active
            for cs in (p.get("status") or {}).get("containerStatuses") or []
        )
        if not suspended:
            status.setdefault("startTime", stamp)
        outcome: tuple[str, str, str] | None = None  # (condition, reason, message)
        on_failure = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") == "OnFailure"
        if failed + (restarts if on_failure else 0) > backoff_limit:
            outcome = ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif spec.get("activeDeadlineSeconds") is not None and "startTime" in status:
            deadline = parse_time(status["startTime"]) + timedelta(seconds=int(spec["activeDeadlineSeconds"]))
            if now >= deadline:
                outcome = ("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
            else:
                self._after((deadline - now).total_seconds(), ("Job", namespace, name))
        if outcome is None:
            done = succeeded >= int(completions) if completions is not None else succeeded >= 1 and not active
            if done:
                outcome = ("Complete", "", "")
        if outcome is not None or suspended:
            for pod in active:
                with contextlib.suppress(NotFound):
                    self.store.delete("v1", "Pod", pod["metadata"]["name"], namespace)
            active = []
        elif completions is not None:
            wanted = min(parallelism, int(completions) - succeeded)
            self._create_pods(job, wanted - len(active), failed, active)
        elif succeeded == 0:
            self._create_pods(job, parallelism - len(active), failed, active)
        if outcome is not None:
            kind, reason, message = outcome
            set_condition(conditions, kind, "True", reason, message, stamp)
            conditions[-1] = {"type": kind, "status": "True", "lastProbeTime": stamp, **conditions[-1]}
            if kind == "Complete":
                status["completionTime"] = stamp
                self.recorder.event(job, "Normal", "Completed", "Job completed", component="job-controller")
            else:
                self.recorder.event(job, "Warning", reason, message, component="job-controller")
        if suspended:
            set_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", stamp)
        elif any(c.get("type") == "Suspended" for c in conditions):
            set_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed", stamp)
        status.update(
            {
                "active": len(active),
                "succeeded": succeeded,
                "failed": failed,
                "ready": sum(1 for p in active if pod_is_ready(p)),
                "terminating": 0,
                "uncountedTerminatedPods": {},
            }
        )
        for zero in ("active", "succeeded", "failed"):
            if not status[zero]:
                del status[zero]
        if conditions:
            status["conditions"] = conditions
        if status != previous:
            job["status"] = status
            job = self.store.update("batch/v1", "Job", job, subresource="status")
        if outcome is not None:
            self._schedule_ttl(job, status)

    def _create_pods(
        self, job: dict[str, Any], count: int, failed: int, active: list[dict[str, Any]]
    ) -> None:
        if count <= 0:
            return
        namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
        if failed:
            # kube's pod failure back-off: wait before replacing failed pods, doubling per failure.
            delay = self._retry_backoff_s * 2 ** min(failed - 1, 10)
            last_failure = self._last_failure(job)
            if last_failure is not None:
                remaining = (last_failure + timedelta(seconds=delay) - self._clock()).total_seconds()
                if remaining > 0:
                    self._after(remaining, ("Job", namespace, name))
                    return
        uid = job["metadata"]["uid"]
        labels = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
        template = clone(job["spec"]["template"])
        template.setdefault("spec", {}).setdefault("restartPolicy", "Never")
        for _ in range(count):
            body = pod_from_template(template, job, labels=labels)
            body["metadata"]["generateName"] = f"{name}-"
            pod = self.store.create("v1", "Pod", body, namespace=namespace)
            active.append(pod)
            message = f"Created pod: {pod['metadata']['name']}"
            self.recorder.event(job, "Normal", "SuccessfulCreate", message, component="job-controller")

    def _last_failure(self, job: dict[str, Any]) -> datetime | None:
        latest: datetime | None = None
        for pod in owned_by(self.store.list("v1", "Pod", job["metadata"]["namespace"])[0], job):
            if pod["status"].get("phase") != "Failed":
                continue
            for cs in pod["status"].get("containerStatuses") or []:
                finished = ((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
                if finished:
                    moment = parse_time(finished)
                    latest = moment if latest is None or moment > latest else latest
        return latest

    def _schedule_ttl(self, job: dict[str, Any], status: Mapping[str, Any]) -> None:
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        finished_at = status.get("completionTime") or next(
            (
                c.get("lastTransitionTime")
                for c in status.get("conditions") or []
                if c.get("type") == "Failed"
            ),
            None,
        )
        base = parse_time(finished_at) if finished_at else self._clock()
        remaining = (base + timedelta(seconds=int(ttl)) - self._clock()).total_seconds()
        self._after(max(0.0, remaining), ("JobTTL", job["metadata"]["namespace"], job["metadata"]["name"]))

    def delete_expired(self, namespace: str, name: str) -> None:
        self.store.delete("batch/v1", "Job", name, namespace, propagation="Background")
