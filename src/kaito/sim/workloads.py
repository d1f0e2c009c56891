"""The workload simulator: scheduler, kubelet and the workload controllers of kube-controller-manager.

:class:`WorkloadSimulator` runs against a :class:`~kaito.sim.store.Store` on the store's event loop. It opens
one watch per kind it serves (Node, Pod, Deployment, ReplicaSet, StatefulSet, Job) and turns every event into
*keys* on one work queue; a single worker reconciles key after key. Each reconcile is synchronous (the store
is), so it reads and writes a consistent world and is atomic with respect to everything else on the loop.
Level-triggered and idempotent like the real controllers: every reconcile reads the current objects, computes
what should be, converges, and writes status only when it changed. There is no polling: besides watch events,
the only wake-ups are timers (``loop.call_later``) for a Job's deadline or retry back-off, a Deployment's
progress deadline and the grace before a deleted node's pods go; all are tracked, and cancelled by ``stop()``.

Work-queue invariant (client-go's): a key is in ``_dirty`` exactly while it waits in ``_queue``, so a key is
queued at most once however many events name it.

Controllers, as kube's (pods are found through their controller ownerReference; orphans are not adopted):

- Deployment -> ReplicaSets named ``<name>-<pod-template-hash>`` (kube's FNV hash encoding), revision
  annotations, RollingUpdate (maxSurge/maxUnavailable, 25% each by default: the new ReplicaSet is scaled up
  before the old one is scaled down, by kube's own arithmetic) and Recreate; status with observedGeneration,
  replicas/updated/ready/available/unavailable and the Available/Progressing conditions and reasons.
- ReplicaSet -> pods ``<rs>-<5 chars>``; deletes the least valuable pods first when scaling down.
- StatefulSet -> pods ``<name>-<ordinal>`` with stable names, ``statefulset.kubernetes.io/pod-name``,
  ``apps.kubernetes.io/pod-index`` and ``controller-revision-hash``; OrderedReady or Parallel; RollingUpdate
  from the highest ordinal, one pod at a time (honouring ``partition``); OnDelete leaves pods alone.
- Job -> pods up to parallelism until completions succeed; backoffLimit (OnFailure restarts count too),
  activeDeadlineSeconds, suspend, ttlSecondsAfterFinished; Complete/Failed conditions with kube's reasons.
- Scheduler: pending pods are tried when they appear; a pod that fits nowhere gets ``PodScheduled=False,
  Unschedulable`` and a ``FailedScheduling`` Event and waits, like kube's unschedulable queue, until a Node
  changes or a bound pod goes away.
- Node lifecycle: the pods of a deleted Node are deleted after ``Timings.node_gone_grace_s``.

While it runs, the store deletes bound pods gracefully (``Store.graceful_pod_deletion``): the kubelet stops
the containers and finishes the delete, as a real one does. A watch the store drops (``drop_watches``, a fault
tests inject) is resumed from the last resourceVersion seen, or from a fresh list when that was compacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from kaito.sim.errors import ApiError, Conflict, Gone, NotFound
from kaito.sim.kubelet import Kubelet, Timings
from kaito.sim.objects import clone, format_time, parse_time, utcnow
from kaito.sim.processes import ProcessRuntime, ProcessRuntimeConfig
from kaito.sim.recorder import EventRecorder
from kaito.sim.scheduler import bound_usage, pod_requests, schedule
from kaito.sim.store import Store
from kaito.sim.watch import Watch, WatchEvent

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

POD_TEMPLATE_HASH = "pod-template-hash"
_REVISION = "deployment.kubernetes.io/revision"
_DESIRED = "deployment.kubernetes.io/desired-replicas"
_MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_STS_POD_NAME = "statefulset.kubernetes.io/pod-name"
_STS_POD_INDEX = "apps.kubernetes.io/pod-index"
_REVISION_HASH = "controller-revision-hash"
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # kube's rand.SafeEncodeString alphabet
_TERMINAL = frozenset({"Succeeded", "Failed"})
_SCHEDULER = "default-scheduler"

Key = tuple[str, str, str]  # (what, namespace, name)
_SCHEDULE: Key = ("schedule", "", "")


# --------------------------------------------------------------------------------------------- pure helpers


def template_hash(template: Mapping[str, Any], collision_count: int = 0) -> str:
    """The ``pod-template-hash`` of a pod template: FNV-32a, rendered with kube's safe alphabet."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    value = 0x811C9DC5
    for byte in data + (str(collision_count).encode() if collision_count else b""):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE_ALPHABET[ord(ch) % len(_SAFE_ALPHABET)] for ch in str(value))


def _int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        scaled = int(value[:-1]) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(value)


def resolve_fenceposts(strategy: Mapping[str, Any] | None, replicas: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) of a RollingUpdate strategy; kube forbids both 0 by making unavailable 1."""
    rolling = (strategy or {}).get("rollingUpdate") or {}
    surge = _int_or_percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _spec_replicas(obj: Mapping[str, Any]) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _status_int(obj: Mapping[str, Any], name: str) -> int:
    return int((obj.get("status") or {}).get(name) or 0)


def new_replica_set_replicas(
    desired: int, max_surge: int, new_rs: Mapping[str, Any], all_rs: list[Any]
) -> int:
    """kube's ``NewRSNewReplicas`` for RollingUpdate: grow the new ReplicaSet within replicas + maxSurge."""
    current = sum(_spec_replicas(rs) for rs in all_rs)
    new_replicas = _spec_replicas(new_rs)
    if current >= desired + max_surge:
        return new_replicas
    return new_replicas + min(desired + max_surge - current, desired - new_replicas)


def old_replica_sets_scale_down(
    desired: int, max_unavailable: int, new_rs: Mapping[str, Any], old_rs: list[dict[str, Any]]
) -> dict[str, int]:
    """kube's ``reconcileOldReplicaSets``: new ``spec.replicas`` per old ReplicaSet name (oldest first).

    First unhealthy replicas go, then available ones, never taking availability below
    ``desired - max_unavailable``.
    """
    targets = {rs["metadata"]["name"]: _spec_replicas(rs) for rs in old_rs}
    if not sum(targets.values()):
        return targets
    all_pods = sum(targets.values()) + _spec_replicas(new_rs)
    min_available = desired - max_unavailable
    new_unavailable = _spec_replicas(new_rs) - _status_int(new_rs, "availableReplicas")
    budget = all_pods - min_available - new_unavailable
    if budget <= 0:
        return targets
    ordered = sorted(
        old_rs, key=lambda rs: (rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"])
    )
    for rs in ordered:  # cleanupUnhealthyReplicas
        name = rs["metadata"]["name"]
        unhealthy = targets[name] - _status_int(rs, "availableReplicas")
        cut = min(budget, max(0, unhealthy))
        targets[name] -= cut
        budget -= cut
        if budget <= 0:
            break
    available = sum(_status_int(rs, "availableReplicas") for rs in old_rs) + _status_int(
        new_rs, "availableReplicas"
    )
    room = available - min_available
    for rs in ordered:  # scaleDownOldReplicaSetsForRollingUpdate
        if room <= 0:
            break
        name = rs["metadata"]["name"]
        cut = min(targets[name], room)
        targets[name] -= cut
        room -= cut
    return targets


def pod_is_ready(pod: Mapping[str, Any]) -> bool:
    """The pod's ``Ready`` condition is True (and it is not being deleted)."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _pod_active(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") not in _TERMINAL and not (pod.get("metadata") or {}).get(
        "deletionTimestamp"
    )


def _set_condition(
    conditions: list[dict[str, Any]],
    kind: str,
    status: str,
    reason: str,
    message: str,
    now: str,
    *,
    update_time: bool = False,
    touch: bool = False,
) -> None:
    """kube's SetDeploymentCondition/SetJobCondition, in place.

    An unchanged (status, reason, message) leaves the condition alone unless ``touch`` (progress was made);
    ``lastTransitionTime`` moves only when the status changes; ``update_time`` adds ``lastUpdateTime``
    (Deployment conditions carry it).
    """
    index = next((i for i, c in enumerate(conditions) if c.get("type") == kind), None)
    existing = conditions[index] if index is not None else None
    same_status = existing is not None and existing.get("status") == status
    unchanged = (
        existing is not None and existing.get("reason") == reason and existing.get("message") == message
    )
    if same_status and unchanged and not touch:
        return
    condition = {"type": kind, "status": status, "reason": reason, "message": message}
    if update_time:
        condition["lastUpdateTime"] = now
    condition["lastTransitionTime"] = (
        existing.get("lastTransitionTime", now) if same_status and existing else now
    )
    if index is None:
        conditions.append(condition)
    else:
        conditions[index] = condition


def deployment_conditions(
    previous: list[dict[str, Any]],
    *,
    desired: int,
    max_unavailable: int,
    status: Mapping[str, int],
    new_rs_name: str,
    created_new_rs: bool,
    progressed: bool,
    deadline_s: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The Available and Progressing conditions the deployment controller writes, with its reasons."""
    stamp = format_time(now)
    conditions = [clone(c) for c in previous]
    if status["availableReplicas"] >= desired - max_unavailable:
        message = "Deployment has minimum availability."
        _set_condition(
            conditions, "Available", "True", "MinimumReplicasAvailable", message, stamp, update_time=True
        )
    else:
        message = "Deployment does not have minimum availability."
        reason = "MinimumReplicasUnavailable"
        _set_condition(conditions, "Available", "False", reason, message, stamp, update_time=True)
    complete = (
        status["updatedReplicas"] == desired
        and status["replicas"] == desired
        and status["availableReplicas"] == desired
    )
    current = next((c for c in conditions if c.get("type") == "Progressing"), None)
    if not new_rs_name:
        pass  # Recreate, old pods still stopping: no new ReplicaSet to report on yet
    elif complete:
        message = f'ReplicaSet "{new_rs_name}" has successfully progressed.'
        _set_condition(
            conditions, "Progressing", "True", "NewReplicaSetAvailable", message, stamp, update_time=True
        )
    elif created_new_rs:
        message = f'Created new replica set "{new_rs_name}"'
        reason = "NewReplicaSetCreated"
        _set_condition(
            conditions, "Progressing", "True", reason, message, stamp, update_time=True, touch=True
        )
    elif progressed or current is None:
        message = f'ReplicaSet "{new_rs_name}" is progressing.'
        reason = "ReplicaSetUpdated"
        _set_condition(
            conditions, "Progressing", "True", reason, message, stamp, update_time=True, touch=True
        )
    elif (
        deadline_s is not None and current is not None and current.get("reason") != "ProgressDeadlineExceeded"
    ):
        since = parse_time(current.get("lastUpdateTime") or current.get("lastTransitionTime") or stamp)
        if now - since >= timedelta(seconds=deadline_s):
            message = f'ReplicaSet "{new_rs_name}" has timed out progressing.'
            _set_condition(
                conditions,
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                message,
                stamp,
                update_time=True,
            )
    order = {"Available": 0, "Progressing": 1}
    return sorted(conditions, key=lambda c: order.get(str(c.get("type")), 2))


def _controller_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def _owner_ref(owner: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _owned(objects: Iterable[dict[str, Any]], owner: Mapping[str, Any]) -> list[dict[str, Any]]:
    uid = owner["metadata"]["uid"]
    return [o for o in objects if (_controller_of(o) or {}).get("uid") == uid]


def _template_without_hash(template: Mapping[str, Any]) -> dict[str, Any]:
    copy = clone(dict(template))
    labels = (copy.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(POD_TEMPLATE_HASH, None)
        if not labels:
            copy["metadata"].pop("labels")
    return copy


def _pod_from_template(
    template: Mapping[str, Any], owner: Mapping[str, Any], *, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    metadata = clone(dict(template.get("metadata") or {}))
    metadata["labels"] = {**(metadata.get("labels") or {}), **(labels or {})}
    metadata["namespace"] = owner["metadata"]["namespace"]
    metadata["ownerReferences"] = [_owner_ref(owner)]
    metadata.pop("name", None)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": clone(dict(template.get("spec") or {})),
    }


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
    ) -> None:
        self.store = store
        self.timings = timings or Timings()
        self._clock = clock
        self.recorder = EventRecorder(store, clock=clock)
        processes = (
            ProcessRuntime(process_runtime, lambda kind, name, ns: store.get("v1", kind, name, ns))
            if process_runtime is not None
            else None
        )  # containers of mapped images run as local processes (kaito.sim.processes)
        self.processes = processes
        self.kubelet = Kubelet(store, self.recorder, self.timings, clock=clock, processes=processes)
        self._queue = _WorkQueue()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._watches: list[Watch] = []
        self._active: set[tuple[str, str]] = set()  # pods to try to schedule
        self._unschedulable: set[tuple[str, str]] = set()  # pods waiting for a cluster change
        self._graceful_before: bool | None = None
        self._stopping = False
        self._handlers: dict[str, Callable[[str, str], None]] = {
            "schedule": lambda _ns, _name: self._schedule_pending(),
            "Deployment": self._sync_deployment,
            "ReplicaSet": self._sync_replica_set,
            "StatefulSet": self._sync_stateful_set,
            "Job": self._sync_job,
            "NodeGone": self._node_gone,
            "JobTTL": self._job_ttl,
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
        ]
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
                watch = self.store.watch(api_version, kind, resource_version=last_rv)
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
        self._retry_unschedulable()
        pods, _ = self.store.list("v1", "Pod", field_selector=f"spec.nodeName={name}")
        for pod in pods:
            self.kubelet.sync_pod(pod)

    def _on_pod(self, event: WatchEvent) -> None:
        if event.type == "BOOKMARK":
            return
        pod = event.object
        metadata = pod["metadata"]
        key = (metadata.get("namespace", ""), metadata["name"])
        spec = pod.get("spec") or {}
        phase = (pod.get("status") or {}).get("phase")
        owner = _controller_of(pod)
        if owner is not None and owner.get("kind") in ("ReplicaSet", "StatefulSet", "Job"):
            self._queue.add((owner["kind"], key[0], owner["name"]))
        if event.type == "DELETED":
            if owner is not None and owner.get("kind") == "ReplicaSet":
                self._wake_deployment_of(key[0], owner["name"])  # a Recreate rollout waits for old pods to go
            self.kubelet.forget_pod(key[0], key[1], metadata.get("uid"))
            self._active.discard(key)
            self._unschedulable.discard(key)
            if spec.get("nodeName"):
                self._retry_unschedulable()
            return
        if spec.get("nodeName"):
            self._active.discard(key)
            self._unschedulable.discard(key)
            self.kubelet.sync_pod(pod)
            if phase in _TERMINAL and event.type == "MODIFIED":
                self._retry_unschedulable()
            return
        wants_us = (spec.get("schedulerName") or _SCHEDULER) == _SCHEDULER
        if wants_us and phase not in _TERMINAL and not metadata.get("deletionTimestamp"):
            if key not in self._unschedulable:
                self._active.add(key)
                self._queue.add(_SCHEDULE)
        elif metadata.get("deletionTimestamp"):
            with contextlib.suppress(NotFound):  # an unbound pod has no kubelet to finish its deletion
                self.store.delete("v1", "Pod", key[1], key[0], grace_period_seconds=0)

    def _on_replica_set(self, event: WatchEvent) -> None:
        self._on_workload(event)
        owner = _controller_of(event.object)
        if owner is not None and owner.get("kind") == "Deployment":
            self._queue.add(("Deployment", event.object["metadata"].get("namespace", ""), owner["name"]))

    def _wake_deployment_of(self, namespace: str, replica_set: str) -> None:
        try:
            owner = _controller_of(self.store.get("apps/v1", "ReplicaSet", replica_set, namespace))
        except NotFound:
            return
        if owner is not None and owner.get("kind") == "Deployment":
            self._queue.add(("Deployment", namespace, owner["name"]))

    def _on_workload(self, event: WatchEvent) -> None:
        if event.type in ("BOOKMARK", "DELETED"):
            return
        metadata = event.object["metadata"]
        self._queue.add((event.kind, metadata.get("namespace", ""), metadata["name"]))

    def _retry_unschedulable(self) -> None:
        if self._unschedulable:
            self._active |= self._unschedulable
            self._unschedulable.clear()
            self._queue.add(_SCHEDULE)

    # --- scheduler ------------------------------------------------------------------------------------------

    def _schedule_pending(self) -> None:
        if not self._active:
            return
        nodes, _ = self.store.list("v1", "Node")
        pods, _ = self.store.list("v1", "Pod")
        usage = bound_usage(pods)
        wanted = self._active
        self._active = set()
        pending = [
            p
            for p in pods
            if (p["metadata"]["namespace"], p["metadata"]["name"]) in wanted
            and not p["spec"].get("nodeName")
            and _pod_active(p)
        ]
        pending.sort(
            key=lambda p: (
                -int(p["spec"].get("priority") or 0),
                p["metadata"].get("creationTimestamp", ""),
                p["metadata"]["namespace"],
                p["metadata"]["name"],
            )
        )
        for pod in pending:
            key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
            result = schedule(pod, nodes, usage)
            try:
                if result.node_name is None:
                    self._unschedulable.add(key)
                    self._mark_unschedulable(pod, result.message)
                    continue
                self._bind(pod, result.node_name)
            except NotFound:
                self._unschedulable.discard(key)
                continue
            node_usage = usage.setdefault(result.node_name, {})
            for name, amount in pod_requests(pod).items():
                node_usage[name] = node_usage.get(name, Decimal(0)) + amount

    def _bind(self, pod: dict[str, Any], node_name: str) -> None:
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        pod["spec"]["nodeName"] = node_name
        bound = self.store.update("v1", "Pod", pod)
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
        bound["status"] = {**status, "conditions": conditions}
        self.store.update("v1", "Pod", bound, subresource="status")
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
            pod = self.store.update("v1", "Pod", pod, subresource="status")
        self.recorder.event(pod, "Warning", "FailedScheduling", message, component=_SCHEDULER)

    # --- Deployment -----------------------------------------------------------------------------------------

    def _sync_deployment(self, namespace: str, name: str) -> None:
        deployment = self.store.get("apps/v1", "Deployment", name, namespace)
        if deployment["metadata"].get("deletionTimestamp"):
            return
        spec = deployment["spec"]
        desired = _spec_replicas(deployment)
        strategy = spec.get("strategy") or {}
        recreate = strategy.get("type") == "Recreate"
        max_surge, max_unavailable = (0, 0) if recreate else resolve_fenceposts(strategy, desired)
        all_rs = _owned(self.store.list("apps/v1", "ReplicaSet", namespace)[0], deployment)
        want = _template_without_hash(spec.get("template") or {})
        new_rs = next((rs for rs in all_rs if _template_without_hash(rs["spec"]["template"]) == want), None)
        old_rs = [rs for rs in all_rs if rs is not new_rs]
        revision = 1 + max(
            (int(rs["metadata"].get("annotations", {}).get(_REVISION, "0")) for rs in old_rs), default=0
        )
        if spec.get("paused"):
            self._write_deployment_status(deployment, new_rs, all_rs, desired, max_unavailable, False)
            return
        if recreate:
            new_rs, created = self._rollout_recreate(deployment, new_rs, old_rs, revision)
        else:
            new_rs, created = self._rollout_rolling(
                deployment, new_rs, old_rs, revision, max_surge, max_unavailable
            )
        if created and new_rs is not None:
            all_rs.append(new_rs)
        self._clean_up_history(deployment, old_rs)
        self._write_deployment_status(deployment, new_rs, all_rs, desired, max_unavailable, created)

    def _rollout_recreate(
        self,
        deployment: dict[str, Any],
        new_rs: dict[str, Any] | None,
        old_rs: list[dict[str, Any]],
        revision: int,
    ) -> tuple[dict[str, Any] | None, bool]:
        """kube's rolloutRecreate: old ReplicaSets to 0; once none of their pods runs, the new one up."""
        for rs in old_rs:
            if _spec_replicas(rs):
                self._scale_replica_set(deployment, rs, 0, 0)
        old_uids = {rs["metadata"]["uid"] for rs in old_rs}
        pods, _ = self.store.list("v1", "Pod", deployment["metadata"]["namespace"])
        if any(
            (_controller_of(p) or {}).get("uid") in old_uids and p["status"].get("phase") not in _TERMINAL
            for p in pods
        ):
            return new_rs, False
        desired = _spec_replicas(deployment)
        if new_rs is None:
            return self._create_replica_set(deployment, desired, revision, 0), True
        new_rs = self._bump_revision(new_rs, revision)
        if _spec_replicas(new_rs) != desired:
            new_rs = self._scale_replica_set(deployment, new_rs, desired, 0)
        return new_rs, False

    def _rollout_rolling(
        self,
        deployment: dict[str, Any],
        new_rs: dict[str, Any] | None,
        old_rs: list[dict[str, Any]],
        revision: int,
        max_surge: int,
        max_unavailable: int,
    ) -> tuple[dict[str, Any], bool]:
        """kube's rolloutRolling: grow the new ReplicaSet within surge, shrink the old within availability."""
        desired = _spec_replicas(deployment)
        created = new_rs is None
        if new_rs is None:
            probe = {"spec": {"replicas": 0}}
            replicas = new_replica_set_replicas(desired, max_surge, probe, [*old_rs, probe])
            new_rs = self._create_replica_set(deployment, replicas, revision, max_surge)
        else:
            new_rs = self._bump_revision(new_rs, revision)
            if _spec_replicas(new_rs) > desired:
                target = desired
            else:
                target = new_replica_set_replicas(desired, max_surge, new_rs, [new_rs, *old_rs])
            stale = (new_rs["metadata"].get("annotations") or {}).get(_DESIRED) != str(desired)
            if target != _spec_replicas(new_rs) or stale:
                new_rs = self._scale_replica_set(deployment, new_rs, target, max_surge)
        targets = old_replica_sets_scale_down(desired, max_unavailable, new_rs, old_rs)
        for rs in old_rs:
            if targets[rs["metadata"]["name"]] != _spec_replicas(rs):
                self._scale_replica_set(deployment, rs, targets[rs["metadata"]["name"]], max_surge)
        return new_rs, created

    def _bump_revision(self, new_rs: dict[str, Any], revision: int) -> dict[str, Any]:
        """A rollback to an older template makes its ReplicaSet the newest revision again."""
        annotations = new_rs["metadata"].setdefault("annotations", {})
        if int(annotations.get(_REVISION, "0")) < revision - 1:
            annotations[_REVISION] = str(revision)
            return self.store.update("apps/v1", "ReplicaSet", new_rs)
        return new_rs

    def _create_replica_set(
        self, deployment: dict[str, Any], replicas: int, revision: int, max_surge: int
    ) -> dict[str, Any]:
        template = deployment["spec"].get("template") or {}
        hash_ = template_hash(template, int((deployment.get("status") or {}).get("collisionCount") or 0))
        rs_template = clone(template)
        rs_template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH] = hash_
        selector = clone(deployment["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = hash_
        desired = _spec_replicas(deployment)
        body = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{deployment['metadata']['name']}-{hash_}",
                "namespace": deployment["metadata"]["namespace"],
                "labels": dict(rs_template["metadata"]["labels"]),
                "annotations": {
                    _DESIRED: str(desired),
                    _MAX_REPLICAS: str(desired + max_surge),
                    _REVISION: str(revision),
                },
                "ownerReferences": [_owner_ref(deployment)],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": deployment["spec"].get("minReadySeconds", 0),
                "selector": selector,
                "template": rs_template,
            },
        }
        created = self.store.create(
            "apps/v1", "ReplicaSet", body, namespace=deployment["metadata"]["namespace"]
        )
        if replicas:
            self._scaling_event(deployment, created["metadata"]["name"], 0, replicas)
        return created

    def _scale_replica_set(
        self, deployment: dict[str, Any], rs: dict[str, Any], replicas: int, max_surge: int
    ) -> dict[str, Any]:
        before = _spec_replicas(rs)
        desired = _spec_replicas(deployment)
        rs["spec"]["replicas"] = replicas
        annotations = rs["metadata"].setdefault("annotations", {})
        annotations[_DESIRED] = str(desired)
        annotations[_MAX_REPLICAS] = str(desired + max_surge)
        updated = self.store.update("apps/v1", "ReplicaSet", rs)
        if before != replicas:
            self._scaling_event(deployment, rs["metadata"]["name"], before, replicas)
        return updated

    def _scaling_event(self, deployment: dict[str, Any], rs_name: str, before: int, after: int) -> None:
        direction = "up" if after > before else "down"
        message = f"Scaled {direction} replica set {rs_name} from {before} to {after}"
        self.recorder.event(
            deployment, "Normal", "ScalingReplicaSet", message, component="deployment-controller"
        )

    def _clean_up_history(self, deployment: dict[str, Any], old_rs: list[dict[str, Any]]) -> None:
        limit = deployment["spec"].get("revisionHistoryLimit", 10)
        idle = [rs for rs in old_rs if not _spec_replicas(rs) and not _status_int(rs, "replicas")]
        idle.sort(key=lambda rs: int(rs["metadata"].get("annotations", {}).get(_REVISION, "0")))
        for rs in idle[: max(0, len(idle) - int(limit))]:
            with contextlib.suppress(NotFound):
                self.store.delete(
                    "apps/v1", "ReplicaSet", rs["metadata"]["name"], rs["metadata"]["namespace"]
                )

    def _write_deployment_status(
        self,
        deployment: dict[str, Any],
        new_rs: dict[str, Any] | None,
        all_rs: list[dict[str, Any]],
        desired: int,
        max_unavailable: int,
        created: bool,
    ) -> None:
        # Status counts come from the ReplicaSets as stored now (their status is the ReplicaSet controller's).
        fresh: list[dict[str, Any]] = []
        for rs in all_rs:
            with contextlib.suppress(NotFound):
                fresh.append(
                    self.store.get(
                        "apps/v1", "ReplicaSet", rs["metadata"]["name"], rs["metadata"]["namespace"]
                    )
                )
        new_name = new_rs["metadata"]["name"] if new_rs is not None else ""
        new_fresh = next((rs for rs in fresh if rs["metadata"]["name"] == new_name), None)
        counts = {
            "replicas": sum(_status_int(rs, "replicas") for rs in fresh),
            "updatedReplicas": _status_int(new_fresh, "replicas") if new_fresh else 0,
            "readyReplicas": sum(_status_int(rs, "readyReplicas") for rs in fresh),
            "availableReplicas": sum(_status_int(rs, "availableReplicas") for rs in fresh),
        }
        previous = deployment.get("status") or {}
        old_total = sum(_status_int(rs, "replicas") for rs in fresh if rs is not new_fresh)
        progressed = (
            counts["updatedReplicas"] > int(previous.get("updatedReplicas") or 0)
            or counts["readyReplicas"] > int(previous.get("readyReplicas") or 0)
            or counts["availableReplicas"] > int(previous.get("availableReplicas") or 0)
            or old_total < int(previous.get("replicas") or 0) - int(previous.get("updatedReplicas") or 0)
        )
        deadline = deployment["spec"].get("progressDeadlineSeconds", 600)
        now = self._clock()
        status: dict[str, Any] = {"observedGeneration": deployment["metadata"].get("generation", 1), **counts}
        unavailable = max(0, desired - counts["availableReplicas"])
        if unavailable:
            status["unavailableReplicas"] = unavailable
        status["conditions"] = deployment_conditions(
            list(previous.get("conditions") or []),
            desired=desired,
            max_unavailable=max_unavailable,
            status=counts,
            new_rs_name=new_name,
            created_new_rs=created,
            progressed=progressed,
            deadline_s=None if deployment["spec"].get("paused") else deadline,
            now=now,
        )
        if previous.get("collisionCount") is not None:
            status["collisionCount"] = previous["collisionCount"]
        if status != previous:
            deployment["status"] = status
            self.store.update("apps/v1", "Deployment", deployment, subresource="status")
        complete = all(counts[k] == desired for k in counts if k != "readyReplicas")
        if not complete and deadline is not None:
            key = ("Deployment", deployment["metadata"]["namespace"], deployment["metadata"]["name"])
            self._after(float(deadline) + 0.01, key)

    # --- ReplicaSet -----------------------------------------------------------------------------------------

    def _sync_replica_set(self, namespace: str, name: str) -> None:
        rs = self.store.get("apps/v1", "ReplicaSet", name, namespace)
        if rs["metadata"].get("deletionTimestamp"):
            return
        pods = _owned(self.store.list("v1", "Pod", namespace)[0], rs)
        active = [p for p in pods if _pod_active(p)]
        desired = _spec_replicas(rs)
        template = rs["spec"].get("template") or {}
        if len(active) < desired:
            for _ in range(desired - len(active)):
                body = _pod_from_template(template, rs)
                body["metadata"]["generateName"] = f"{name}-"
                pod = self.store.create("v1", "Pod", body, namespace=namespace)
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
            rs["status"] = status
            self.store.update("apps/v1", "ReplicaSet", rs, subresource="status")

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

    # --- StatefulSet ----------------------------------------------------------------------------------------

    def _sync_stateful_set(self, namespace: str, name: str) -> None:
        sts = self.store.get("apps/v1", "StatefulSet", name, namespace)
        if sts["metadata"].get("deletionTimestamp"):
            return
        spec = sts["spec"]
        desired = _spec_replicas(sts)
        parallel = spec.get("podManagementPolicy") == "Parallel"
        strategy = spec.get("updateStrategy") or {}
        on_delete = strategy.get("type") == "OnDelete"
        partition = int(((strategy.get("rollingUpdate") or {}).get("partition")) or 0)
        template = spec.get("template") or {}
        update_revision = f"{name}-{template_hash(template)}"
        previous = sts.get("status") or {}
        current_revision = previous.get("currentRevision") or update_revision
        pods: dict[int, dict[str, Any]] = {}
        for pod in _owned(self.store.list("v1", "Pod", namespace)[0], sts):
            ordinal = _ordinal(pod["metadata"]["name"], name)
            if ordinal is not None:
                pods[ordinal] = pod
        for ordinal in range(desired):
            if ordinal not in pods:
                revision = current_revision if ordinal < partition else update_revision
                pods[ordinal] = self._create_sts_pod(sts, ordinal, revision)
                if not parallel:
                    break
                continue
            pod = pods[ordinal]
            if pod["metadata"].get("deletionTimestamp"):
                if not parallel:
                    break
                continue
            if (pod.get("status") or {}).get("phase") in _TERMINAL:
                self._delete_sts_pod(sts, pod)
                if not parallel:
                    break
                continue
            if not parallel and not pod_is_ready(pod):
                break
        condemned = sorted((o for o in pods if o >= desired), reverse=True)
        for ordinal in condemned:
            pod = pods[ordinal]
            if not parallel:
                if any(not pod_is_ready(pods[o]) for o in pods if o < ordinal and o < desired):
                    break
                if not pod["metadata"].get("deletionTimestamp"):
                    self._delete_sts_pod(sts, pod)
                break
            if not pod["metadata"].get("deletionTimestamp"):
                self._delete_sts_pod(sts, pod)
        in_range = [pods[o] for o in range(desired) if o in pods]
        settled = len(in_range) == desired and all(pod_is_ready(p) for p in in_range) and not condemned
        if settled and not on_delete:
            for ordinal in range(desired - 1, partition - 1, -1):
                pod = pods[ordinal]
                if (pod["metadata"].get("labels") or {}).get(_REVISION_HASH) != update_revision:
                    self._delete_sts_pod(sts, pod)
                    break
        existing = [p for p in pods.values() if self._exists(p)]
        revisions = [(p["metadata"].get("labels") or {}).get(_REVISION_HASH) for p in existing]
        ready = sum(1 for p in existing if pod_is_ready(p))
        status: dict[str, Any] = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(existing),
            "readyReplicas": ready,
            "currentReplicas": revisions.count(current_revision),
            "updatedReplicas": revisions.count(update_revision),
            "availableReplicas": ready,
            "currentRevision": current_revision,
            "updateRevision": update_revision,
            "collisionCount": int(previous.get("collisionCount") or 0),
        }
        if status["updatedReplicas"] == status["replicas"] == desired and ready == desired:
            status["currentRevision"] = update_revision
            status["currentReplicas"] = status["updatedReplicas"]
        if status != previous:
            sts["status"] = status
            self.store.update("apps/v1", "StatefulSet", sts, subresource="status")

    def _exists(self, pod: Mapping[str, Any]) -> bool:
        try:
            self.store.get("v1", "Pod", pod["metadata"]["name"], pod["metadata"]["namespace"])
        except NotFound:
            return False
        return True

    def _create_sts_pod(self, sts: dict[str, Any], ordinal: int, revision: str) -> dict[str, Any]:
        name = f"{sts['metadata']['name']}-{ordinal}"
        labels = {_REVISION_HASH: revision, _STS_POD_NAME: name, _STS_POD_INDEX: str(ordinal)}
        body = _pod_from_template(sts["spec"].get("template") or {}, sts, labels=labels)
        body["metadata"]["name"] = name
        body["spec"]["hostname"] = name
        if sts["spec"].get("serviceName"):
            body["spec"]["subdomain"] = sts["spec"]["serviceName"]
        pod = self.store.create("v1", "Pod", body, namespace=sts["metadata"]["namespace"])
        message = f"create Pod {name} in StatefulSet {sts['metadata']['name']} successful"
        self.recorder.event(sts, "Normal", "SuccessfulCreate", message, component="statefulset-controller")
        return pod

    def _delete_sts_pod(self, sts: dict[str, Any], pod: dict[str, Any]) -> None:
        with contextlib.suppress(NotFound):
            self.store.delete("v1", "Pod", pod["metadata"]["name"], pod["metadata"]["namespace"])
        message = f"delete Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} successful"
        self.recorder.event(sts, "Normal", "SuccessfulDelete", message, component="statefulset-controller")

    # --- Job ----------------------------------------------------------------------------------------------

    def _sync_job(self, namespace: str, name: str) -> None:
        job = self.store.get("batch/v1", "Job", name, namespace)
        if job["metadata"].get("deletionTimestamp"):
            return
        spec = job["spec"]
        previous = job.get("status") or {}
        conditions = [clone(c) for c in previous.get("conditions") or []]
        finished = any(
            c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions
        )
        pods = _owned(self.store.list("v1", "Pod", namespace)[0], job)
        active = [p for p in pods if _pod_active(p)]
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
            self._create_job_pods(job, wanted - len(active), failed, active)
        elif succeeded == 0:
            self._create_job_pods(job, parallelism - len(active), failed, active)
        if outcome is not None:
            kind, reason, message = outcome
            _set_condition(conditions, kind, "True", reason, message, stamp)
            conditions[-1] = {"type": kind, "status": "True", "lastProbeTime": stamp, **conditions[-1]}
            if kind == "Complete":
                status["completionTime"] = stamp
                self.recorder.event(job, "Normal", "Completed", "Job completed", component="job-controller")
            else:
                self.recorder.event(job, "Warning", reason, message, component="job-controller")
        if suspended:
            _set_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", stamp)
        elif any(c.get("type") == "Suspended" for c in conditions):
            _set_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed", stamp)
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

    def _create_job_pods(
        self, job: dict[str, Any], count: int, failed: int, active: list[dict[str, Any]]
    ) -> None:
        if count <= 0:
            return
        namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
        if failed:
            # kube's pod failure back-off: wait before replacing failed pods, doubling per failure.
            delay = self.timings.job_retry_backoff_s * 2 ** min(failed - 1, 10)
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
            body = _pod_from_template(template, job, labels=labels)
            body["metadata"]["generateName"] = f"{name}-"
            pod = self.store.create("v1", "Pod", body, namespace=namespace)
            active.append(pod)
            message = f"Created pod: {pod['metadata']['name']}"
            self.recorder.event(job, "Normal", "SuccessfulCreate", message, component="job-controller")

    def _last_failure(self, job: dict[str, Any]) -> datetime | None:
        latest: datetime | None = None
        for pod in _owned(self.store.list("v1", "Pod", job["metadata"]["namespace"])[0], job):
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

    def _job_ttl(self, namespace: str, name: str) -> None:
        self.store.delete("batch/v1", "Job", name, namespace, propagation="Background")

    # --- Node lifecycle -----------------------------------------------------------------------------------

    def _node_gone(self, _namespace: str, name: str) -> None:
        try:
            self.store.get("v1", "Node", name)
            return  # it came back
        except NotFound:
            pass
        pods, _ = self.store.list("v1", "Pod", field_selector=f"spec.nodeName={name}")
        for pod in pods:
            namespace, pod_name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            self.kubelet.forget_pod(namespace, pod_name)
            with contextlib.suppress(NotFound):
                self.store.delete("v1", "Pod", pod_name, namespace, grace_period_seconds=0)

    def _now(self) -> str:
        return format_time(self._clock())


def _ordinal(pod_name: str, set_name: str) -> int | None:
    prefix = f"{set_name}-"
    if not pod_name.startswith(prefix) or not pod_name[len(prefix) :].isdigit():
        return None
    return int(pod_name[len(prefix) :])


def _deletion_rank(pod: Mapping[str, Any]) -> tuple[int, int, int, float]:
    """kube's ActivePodsWithRanks order: unscheduled, then Pending, then not ready, then the newest first."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", ""), 0)
    created = (pod.get("metadata") or {}).get("creationTimestamp")
    age_rank = -parse_time(created).timestamp() if created else 0.0
    return (1 if spec.get("nodeName") else 0, phase_rank, 1 if pod_is_ready(pod) else 0, age_rank)
