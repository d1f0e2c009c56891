"""The workload simulator: scheduler, kubelet and kube-controller-manager's workload controllers, assembled.

:class:`WorkloadSimulator` runs against a :class:`~kaito.sim.server.store.Store` on the store's event loop.
It opens
one watch per kind it serves (Node, Pod, Deployment, ReplicaSet, StatefulSet, Job) and turns every event into
*keys* on one work queue; a single worker reconciles key after key, handing each to the controller of its
kind. Each reconcile is synchronous (the store is), so it reads and writes a consistent world and is atomic
with respect to everything else on the loop. Level-triggered and idempotent like the real controllers: every
reconcile reads the current objects, computes what should be, converges, and writes status only when it
changed. There is no polling: besides watch events, the only wake-ups are timers (``loop.call_later``) for a
Job's deadline or retry back-off, a Deployment's progress deadline, a ReplicaSet's ``minReadySeconds`` and
the grace before a deleted node's pods go; all are tracked here, and cancelled by ``stop()``.

Work-queue invariant (client-go's): a key is in ``_dirty`` exactly while it waits in ``_queue``, so a key is
queued at most once however many events name it.

What reconciles what (pods are found through their controller ownerReference; orphans are not adopted):

- Deployment -> ReplicaSets, by RollingUpdate or Recreate: :mod:`kaito.sim.workloads.deployments`.
- ReplicaSet -> pods ``<rs>-<5 chars>``: :mod:`kaito.sim.workloads.replicasets`.
- StatefulSet -> pods ``<name>-<ordinal>``, OrderedReady or Parallel: :mod:`kaito.sim.workloads.statefulsets`.
- Job -> pods until completions succeed, or backoffLimit/activeDeadlineSeconds fail it:
  :mod:`kaito.sim.workloads.jobs`.
- Scheduler (this module's shell around the pure :mod:`kaito.sim.workloads.scheduler`, over the
  :class:`~kaito.sim.workloads.scheduler_cache.SchedulerCache` of nodes and their requested resources, so a
  pass costs what its pending pods need, not a list of the cluster): pending pods are tried when they
  appear; a pod that fits nowhere gets ``PodScheduled=False, Unschedulable`` and a ``FailedScheduling`` Event
  and waits, like kube's unschedulable queue, until a Node changes or a bound pod goes away. A pod whose
  required affinity pins it to named nodes (KAITO's) is tried on those first and waits only for a change on
  one of them (kube's NodeAffinity queueing hint); other waiting pods are retried on any such change.
- Kubelet: bound pods run through their lifecycle in :mod:`kaito.sim.workloads.kubelet`, optionally as real
  local processes (:mod:`kaito.sim.workloads.processes`).
- PersistentVolumeClaim -> a local PersistentVolume of its StorageClass: :mod:`kaito.sim.workloads.volumes`.
- Node lifecycle (here): the pods of a deleted Node are deleted after ``Timings.node_gone_grace_s``.

While it runs, the store deletes bound pods gracefully (``Store.graceful_pod_deletion``): the kubelet stops
the containers and finishes the delete, as a real one does. A watch the store drops (``drop_watches``, a fault
tests inject) is resumed from the last resourceVersion seen, or from a fresh list when that was compacted.

The pure decision functions of the controllers are re-exported here, where they were first published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from kaito.sim.server.errors import ApiError, Conflict, Gone, NotFound
from kaito.sim.server.objects import format_time, utcnow
from kaito.sim.server.store import Store
from kaito.sim.server.watch import Watch, WatchEvent
from kaito.sim.workloads.deployments import (
    POD_TEMPLATE_HASH,
    DeploymentController,
    deployment_conditions,
    new_replica_set_replicas,
    old_replica_sets_scale_down,
    resolve_fenceposts,
)
from kaito.sim.workloads.jobs import JobController
from kaito.sim.workloads.kubelet import Kubelet, Timings
from kaito.sim.workloads.object_index import ObjectIndex
from kaito.sim.workloads.ownership import controller_of
from kaito.sim.workloads.pod_state import TERMINAL_PHASES, pod_is_active, pod_is_ready
from kaito.sim.workloads.processes import ProcessRuntime, ProcessRuntimeConfig
from kaito.sim.workloads.recorder import EventRecorder
from kaito.sim.workloads.replicasets import ReplicaSetController
from kaito.sim.workloads.scheduler import ScheduleResult, candidate_nodes, schedule
from kaito.sim.workloads.scheduler_cache import SchedulerCache
from kaito.sim.workloads.statefulsets import StatefulSetController
from kaito.sim.workloads.templates import template_hash
from kaito.sim.workloads.volumes import VolumeBinder, ensure_storage_classes
from kaito.sim.workloads.workload_controller import ControllerContext, Key

__all__ = [
    "POD_TEMPLATE_HASH",
    "Timings",
    "WorkloadSimulator",
    "deployment_conditions",
    "new_replica_set_replicas",
    "old_replica_sets_scale_down",
    "pod_is_ready",
    "resolve_fenceposts",
    "template_hash",
]

_log = logging.getLogger(__name__)

_SCHEDULER = "default-scheduler"
_SCHEDULE: Key = ("schedule", "", "")
_PODS = ("", "pods")


class _WorkQueue:
    """A deduplicating FIFO of keys; see the module docstring for its invariant."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._dirty: set[Key] = set()

    def add(self, key: Key) -> None:
        if key not in self._dirty:
            self._dirty.add(key)
            self._queue.put_nowait(key)

    async def get(self) -> Key:
        key = await self._queue.get()
        self._dirty.discard(key)
        return key

    def __len__(self) -> int:
        return len(self._dirty)


class WorkloadSimulator:
    """Scheduler + kubelet + workload controllers over a :class:`Store`; ``async with`` or start()/stop()."""

    def __init__(
        self,
        store: Store,
        *,
        timings: Timings | None = None,
        clock: Callable[[], datetime] = utcnow,
        process_runtime: ProcessRuntimeConfig | None = None,
        volume_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.timings = timings or Timings()
        self._clock = clock
        self.recorder = EventRecorder(store, clock=clock)
        processes = (
            ProcessRuntime(process_runtime, lambda kind, name, ns: store.get("v1", kind, name, ns))
            if process_runtime is not None
            else None
        )  # containers of mapped images run as local processes (kaito.sim.workloads.processes)
        self.processes = processes
        self.kubelet = Kubelet(store, self.recorder, self.timings, clock=clock, processes=processes)
        self._queue = _WorkQueue()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._watches: list[Watch] = []
        self._active: set[tuple[str, str]] = set()  # pods to try to schedule
        # pods that fit no node, waiting for a change: all of them, those pinned to named nodes by node name
        # (and the names each is pinned to), and the others; see _retry_unschedulable
        self._unschedulable: set[tuple[str, str]] = set()
        self._waiting_on: dict[str, set[tuple[str, str]]] = {}
        self._pinned: dict[tuple[str, str], frozenset[str]] = {}
        self._waiting_anywhere: set[tuple[str, str]] = set()
        self._graceful_before: bool | None = None
        self._stopping = False
        self.index = ObjectIndex(store)  # owned objects and pods per node, without listing
        self.scheduler_cache = SchedulerCache(store)  # nodes and what their bound pods request
        context = ControllerContext(
            store, self.recorder, clock, self._after, self.index
        )  # controllers wait on our timers
        deployments = DeploymentController(context)
        replica_sets = ReplicaSetController(context)
        stateful_sets = StatefulSetController(context)
        jobs = JobController(context, retry_backoff_s=self.timings.job_retry_backoff_s)
        self.volume_dir = volume_dir or Path(tempfile.mkdtemp(prefix="kaito-sim-volumes-"))
        volumes = VolumeBinder(context, self.volume_dir)
        self._handlers: dict[str, Callable[[str, str], None]] = {
            "schedule": lambda _ns, _name: self._schedule_pending(),
            "Deployment": deployments.sync,
            "ReplicaSet": replica_sets.sync,
            "StatefulSet": stateful_sets.sync,
            "Job": jobs.sync,
            "NodeGone": self._node_gone,
            "JobTTL": jobs.delete_expired,
            "PersistentVolumeClaim": volumes.sync,
            "ClaimGone": volumes.release,
        }

    # --- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the watches and start the worker; existing objects are picked up as ADDED events."""
        if self._tasks:
            return
        # With a kubelet present, bound pods are deleted gracefully (kubelet finishes the delete).
        self._graceful_before = self.store.graceful_pod_deletion
        self.store.graceful_pod_deletion = True
        loop = asyncio.get_running_loop()
        kinds = [
            ("v1", "Node", self._on_node),
            ("v1", "Pod", self._on_pod),
            ("apps/v1", "Deployment", self._on_workload),
            ("apps/v1", "ReplicaSet", self._on_replica_set),
            ("apps/v1", "StatefulSet", self._on_workload),
            ("batch/v1", "Job", self._on_workload),
            ("v1", "PersistentVolumeClaim", self._on_claim),
            ("storage.k8s.io/v1", "StorageClass", self._on_storage_class),
        ]
        ensure_storage_classes(self.store)
        self._stopping = False
        for api_version, kind, handler in kinds:
            task = loop.create_task(self._pump(api_version, kind, handler), name=f"sim watch {kind}")
            self._tasks.append(task)
        self._tasks.append(loop.create_task(self._work(), name="sim workloads worker"))

    async def stop(self) -> None:
        """Close the watches, cancel timers, the worker and every pod's task."""
        self._stopping = True
        for watch in self._watches:
            watch.close()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._watches.clear()
        await self.kubelet.stop()
        if self._graceful_before is not None:
            self.store.graceful_pod_deletion = self._graceful_before
            self._graceful_before = None

    async def __aenter__(self) -> WorkloadSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- knobs and logs (delegated to the kubelet) ------------------------------------------------------

    def logs(self, namespace: str, pod: str, container: str | None = None, previous: bool = False) -> str:
        """A container's log (``GET pods/{name}/log``); raises ApiError like the API server would."""
        return self.kubelet.logs(namespace, pod, container, previous=previous)

    def set_crash_loop(
        self, namespace: str, pod: str, container: str | None = None, enabled: bool = True
    ) -> None:
        """Make a running pod's container (all when None) crash-loop, or stop crash-looping."""
        self.kubelet.set_crash_loop(namespace, pod, container, enabled)

    def fail_pod(
        self, namespace: str, pod: str, *, exit_code: int = 1, reason: str = "Error", message: str = ""
    ) -> None:
        """Terminate a running pod's containers with ``exit_code``; the pod becomes Failed."""
        self.kubelet.fail_pod(namespace, pod, exit_code=exit_code, reason=reason, message=message)

    # --- event plumbing -------------------------------------------------------------------------------------

    async def _pump(self, api_version: str, kind: str, handler: Callable[[WatchEvent], None]) -> None:
        """Feed one kind's events to ``handler``; a dropped watch resumes from the last resourceVersion seen
        (like an informer), or from scratch with synthetic ADDEDs when that version was compacted away."""
        last_rv: str | None = None
        while not self._stopping:
            try:
                # the store's own dicts: every handler only reads what an event carries
                watch = self.store.watch(api_version, kind, resource_version=last_rv, copy_objects=False)
            except Gone:
                last_rv = None
                continue
            self._watches.append(watch)
            delivered = False
            try:
                async for event in watch:
                    delivered = True
                    last_rv = event.object.get("metadata", {}).get("resourceVersion") or last_rv
                    try:
                        handler(event)
                    except Exception:  # a handler bug must not kill the watch
                        _log.exception("workload simulator failed to handle %s %s", event.type, event.kind)
            finally:
                watch.close()
                with contextlib.suppress(ValueError):
                    self._watches.remove(watch)
            await asyncio.sleep(0 if delivered else 0.05)  # never spin on a watch that ends at once

    async def _work(self) -> None:
        while True:
            what, namespace, name = await self._queue.get()
            try:
                self._handlers[what](namespace, name)
            except Conflict:
                self._after(0.01, (what, namespace, name))
            except NotFound:
                continue  # the object went away while we worked; its DELETED event follows
            except ApiError as exc:
                _log.warning("reconciling %s %s/%s: %s", what, namespace, name, exc)
                self._after(0.1, (what, namespace, name))
            except Exception:
                _log.exception("reconciling %s %s/%s failed", what, namespace, name)
                self._after(0.5, (what, namespace, name))

    def _after(self, delay: float, key: Key) -> None:
        """Queue ``key`` after ``delay`` seconds (an earlier timer for the same key wins)."""
        loop = asyncio.get_running_loop()
        existing = self._timers.get(key)
        due = loop.time() + delay
        if existing is not None and not existing.cancelled() and existing.when() <= due:
            return
        if existing is not None:
            existing.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self._queue.add(key)

        self._timers[key] = loop.call_at(due, fire)

    def _on_node(self, event: WatchEvent) -> None:
        name = event.object["metadata"]["name"]
        if event.type == "DELETED":
            self._after(self.timings.node_gone_grace_s, ("NodeGone", "", name))
            return
        if event.type == "BOOKMARK":
            return
        self._retry_unschedulable(name)
        for pod in self.index.pods_on_node(name):
            self.kubelet.sync_pod(pod)

    def _on_pod(self, event: WatchEvent) -> None:
        if event.type == "BOOKMARK":
            return
        pod = event.object
        metadata = pod["metadata"]
        key = (metadata.get("namespace", ""), metadata["name"])
        spec = pod.get("spec") or {}
        phase = (pod.get("status") or {}).get("phase")
        owner = controller_of(pod)
        if owner is not None and owner.get("kind") in ("ReplicaSet", "StatefulSet", "Job"):
            self._queue.add((owner["kind"], key[0], owner["name"]))
        if event.type == "DELETED":
            if owner is not None and owner.get("kind") == "ReplicaSet":
                self._wake_deployment_of(key[0], owner["name"])  # a Recreate rollout waits for old pods to go
            self.kubelet.forget_pod(key[0], key[1], metadata.get("uid"))
            self._active.discard(key)
            self._forget_waiting(key)
            if spec.get("nodeName"):
                self._retry_unschedulable(spec["nodeName"])
            return
        if spec.get("nodeName"):
            self._active.discard(key)
            self._forget_waiting(key)
            self.kubelet.sync_pod(pod)
            if phase in TERMINAL_PHASES and event.type == "MODIFIED":
                self._retry_unschedulable(spec["nodeName"])
            return
        wants_us = (spec.get("schedulerName") or _SCHEDULER) == _SCHEDULER
        if wants_us and phase not in TERMINAL_PHASES and not metadata.get("deletionTimestamp"):
            if key not in self._unschedulable:
                self._active.add(key)
                self._queue.add(_SCHEDULE)
        elif metadata.get("deletionTimestamp"):
            with contextlib.suppress(NotFound):  # an unbound pod has no kubelet to finish its deletion
                self.store.delete("v1", "Pod", key[1], key[0], grace_period_seconds=0)

    def _on_replica_set(self, event: WatchEvent) -> None:
        self._on_workload(event)
        owner = controller_of(event.object)
        if owner is not None and owner.get("kind") == "Deployment":
            self._queue.add(("Deployment", event.object["metadata"].get("namespace", ""), owner["name"]))

    def _wake_deployment_of(self, namespace: str, replica_set: str) -> None:
        try:
            owner = controller_of(self.store.get("apps/v1", "ReplicaSet", replica_set, namespace))
        except NotFound:
            return
        if owner is not None and owner.get("kind") == "Deployment":
            self._queue.add(("Deployment", namespace, owner["name"]))

    def _on_workload(self, event: WatchEvent) -> None:
        if event.type in ("BOOKMARK", "DELETED"):
            return
        metadata = event.object["metadata"]
        self._queue.add((event.kind, metadata.get("namespace", ""), metadata["name"]))

    def _on_claim(self, event: WatchEvent) -> None:
        if event.type == "BOOKMARK":
            return
        metadata = event.object["metadata"]
        what = "ClaimGone" if event.type == "DELETED" else "PersistentVolumeClaim"
        self._queue.add((what, metadata.get("namespace", ""), metadata["name"]))

    def _on_storage_class(self, event: WatchEvent) -> None:
        if event.type in ("BOOKMARK", "DELETED"):
            return
        for claim in self.store.list("v1", "PersistentVolumeClaim")[0]:
            if (claim.get("status") or {}).get("phase") != "Bound":
                metadata = claim["metadata"]
                self._queue.add(("PersistentVolumeClaim", metadata.get("namespace", ""), metadata["name"]))

    def _retry_unschedulable(self, node_name: str) -> None:
        """A change on ``node_name`` (the Node, or a pod bound to it going away) may let waiting pods fit:
        queue those pinned to that node and every pod not pinned to named nodes (kube's NodeAffinity
        queueing hint: a node a pod's affinity excludes cannot make it schedulable)."""
        retry = self._waiting_anywhere | self._waiting_on.get(node_name, set())
        if not retry:
            return
        for key in retry:
            self._forget_waiting(key)
        self._active |= retry
        self._queue.add(_SCHEDULE)

    def _waiting(self, key: tuple[str, str], pod: dict[str, Any]) -> None:
        """``pod`` fits no node: it waits until a node it may use changes."""
        self._forget_waiting(key)
        self._unschedulable.add(key)
        candidates = candidate_nodes(pod)
        if candidates is None:
            self._waiting_anywhere.add(key)
            return
        self._pinned[key] = candidates
        for name in candidates:
            self._waiting_on.setdefault(name, set()).add(key)

    def _forget_waiting(self, key: tuple[str, str]) -> None:
        self._unschedulable.discard(key)
        self._waiting_anywhere.discard(key)
        for name in self._pinned.pop(key, ()):
            waiting = self._waiting_on.get(name)
            if waiting is not None:
                waiting.discard(key)
                if not waiting:
                    del self._waiting_on[name]

    # --- scheduler ------------------------------------------------------------------------------------------

    def _schedule_pending(self) -> None:
        if not self._active:
            return
        wanted = self._active
        self._active = set()
        pending: list[dict[str, Any]] = []
        for namespace, name in wanted:
            stored = self.store.peek(_PODS, namespace, name)
            if stored is not None and not stored["spec"].get("nodeName") and pod_is_active(stored):
                pending.append(stored)
        pending.sort(
            key=lambda p: (
                -int(p["spec"].get("priority") or 0),
                p["metadata"].get("creationTimestamp", ""),
                p["metadata"]["namespace"],
                p["metadata"]["name"],
            )
        )
        for stored in pending:
            key = (stored["metadata"]["namespace"], stored["metadata"]["name"])
            result = self._place(stored)
            try:
                if result.node_name is None:
                    self._waiting(key, stored)
                    self._mark_unschedulable(self._copy(stored), result.message)
                    continue
                self._bind(self._copy(stored), result.node_name)  # the cache hears of the bind at once
            except NotFound:
                self._forget_waiting(key)
                continue

    def _place(self, pod: dict[str, Any]) -> ScheduleResult:
        """kube's scheduling of one pod against the cached nodes; a pod pinned to named nodes is tried on
        those first, and on every node only when none fits (to explain why, in kube's FitError message)."""
        cache = self.scheduler_cache
        candidates = candidate_nodes(pod)
        if candidates is not None:
            pinned = [cache.nodes[n] for n in sorted(candidates) if n in cache.nodes]
            result = schedule(pod, pinned, cache.usage, cache.allocatable)
            if result.node_name is not None:
                return result
        nodes = [cache.nodes[n] for n in sorted(cache.nodes)]
        return schedule(pod, nodes, cache.usage, cache.allocatable)

    def _copy(self, stored: dict[str, Any]) -> dict[str, Any]:
        return self.store.get("v1", "Pod", stored["metadata"]["name"], stored["metadata"]["namespace"])

    def _bind(self, pod: dict[str, Any], node_name: str) -> None:
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        pod["spec"]["nodeName"] = node_name
        bound = self.store.update("v1", "Pod", pod, copy=False)  # read only: the status goes in a new body
        status = bound.get("status") or {}
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": self._now(),
            }
        )
        body = {**bound, "status": {**status, "conditions": conditions}}
        self.store.update("v1", "Pod", body, subresource="status", copy=False)
        message = f"Successfully assigned {namespace}/{name} to {node_name}"
        self.recorder.event(bound, "Normal", "Scheduled", message, component=_SCHEDULER)

    def _mark_unschedulable(self, pod: dict[str, Any], message: str) -> None:
        status = pod.get("status") or {}
        conditions = list(status.get("conditions") or [])
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": None,
            "lastTransitionTime": self._now(),
        }
        for index, existing in enumerate(conditions):
            if existing.get("type") == "PodScheduled":
                if existing.get("status") == "False":
                    condition["lastTransitionTime"] = existing.get(
                        "lastTransitionTime", condition["lastTransitionTime"]
                    )
                conditions[index] = condition
                break
        else:
            conditions.append(condition)
        if conditions != status.get("conditions"):
            pod["status"] = {**status, "phase": "Pending", "conditions": conditions}
            pod = self.store.update("v1", "Pod", pod, subresource="status", copy=False)
        self.recorder.event(pod, "Warning", "FailedScheduling", message, component=_SCHEDULER)

    # --- Node lifecycle -----------------------------------------------------------------------------------

    def _node_gone(self, _namespace: str, name: str) -> None:
        try:
            self.store.get("v1", "Node", name)
            return  # it came back
        except NotFound:
            pass
        for pod in self.index.pods_on_node(name):
            namespace, pod_name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            self.kubelet.forget_pod(namespace, pod_name)
            with contextlib.suppress(NotFound):
                self.store.delete("v1", "Pod", pod_name, namespace, grace_period_seconds=0)

    def _now(self) -> str:
        return format_time(self._clock())
