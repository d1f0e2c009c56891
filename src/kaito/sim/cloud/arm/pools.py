"""The agent pools of one simulated AKS cluster: ARM's long-running operations and the Nodes they make.

No HTTP here (that is :mod:`kaito.sim.cloud.arm.server`); every method is synchronous and runs to completion
on the event loop, like the store it writes to. Delayed effects are one-shot timers on the injected
:class:`~kaito.sim.cloud.arm.clock.Clock`; nothing polls.

Lifecycle of a pool (``provisioningState``)::

    PUT (new)      -> Creating --provisioning_s--> Succeeded | Failed
    PUT (existing) -> Updating --provisioning_s--> Succeeded | Failed
    DELETE         -> Deleting --deletion_s-----> (gone: GET answers 404)

Invariants:
- ``PoolRecord.operation`` is set exactly while an operation on the pool is in progress, and then its
  timer is the only pending effect on the pool. A second PUT meanwhile is refused with 409
  ``OperationNotAllowed`` (AKS's "in progress ... node pool operation"); a DELETE preempts a create or
  update (that operation ends ``Canceled``).
- ``PoolRecord.instances`` lists the scale-set instance ids whose Nodes this service created, and
  ``next_instance`` is never reused (a new VM gets a new id, as in a VM scale set). Scale-in removes the
  newest instances first.
- An operation record outlives its pool so a client can still poll it after a delete.
- Nodes turn Ready ``node_ready_after_s`` after they register; a pending Ready timer is cancelled when
  its node goes away.
- Every pending effect has its due time written down beside its timer (``OperationRecord.due``,
  ``ready_due``), and :meth:`AgentPoolService.close` cancels timers but keeps those times: that is what a
  snapshot (:mod:`kaito.sim.cloud.arm.snapshot`) saves and :meth:`AgentPoolService.restore` re-arms. A
  restored
  effect runs at its saved due time, but never later than its full configured delay from the restore (the
  cloud kept working while the sim was down; a restarted sim with shorter delays is a faster cloud), so a
  pool that was ``Creating`` at the stop is still ``Creating`` or ``Succeeded`` after it, never lost.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kaito.sim.cloud.arm.clock import Clock, Timer
from kaito.sim.cloud.arm.errors import ArmError, quota_exceeded
from kaito.sim.cloud.arm.faults import ArmFaults
from kaito.sim.cloud.arm.models import (
    AgentPoolSpec,
    ClusterIds,
    parse_agent_pool,
    parse_taint,
    render_agent_pool,
)
from kaito.sim.cloud.arm.nodes import NOT_READY_TAINT, mark_ready, new_node, node_name, node_status
from kaito.sim.cloud.vmsizes import VmSize, find_vm_size
from kaito.sim.server.errors import AlreadyExists, Conflict, NotFound
from kaito.sim.server.store import Store

__all__ = ["AgentPoolService", "OperationRecord", "PoolRecord"]

log = logging.getLogger(__name__)

# AKS forbids changing these on an existing pool (the VMs would have to be replaced).
_IMMUTABLE = (
    ("vm_size", "vmSize"),
    ("os_type", "osType"),
    ("os_disk_size_gb", "osDiskSizeGB"),
    ("max_pods", "maxPods"),
    ("gpu_instance_profile", "gpuInstanceProfile"),
)


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class OperationRecord:
    """One long-running operation, as its Azure-AsyncOperation status resource reports it."""

    id: str
    kind: str  # "create" | "update" | "delete"
    pool: str
    start: datetime.datetime
    status: str = "InProgress"  # InProgress | Succeeded | Failed | Canceled
    end: datetime.datetime | None = None
    error: dict[str, Any] | None = None
    previous: AgentPoolSpec | None = None
    due: datetime.datetime | None = None  # when the operation finishes, while it is in progress
    timer: Timer | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.status != "InProgress"

    def render(self, ids: ClusterIds) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"/subscriptions/{ids.subscription_id}/providers/Microsoft.ContainerService/locations/"
            f"{ids.location}/operations/{self.id}",
            "name": self.id,
            "status": self.status,
            "startTime": _iso(self.start),
        }
        if self.end is not None:
            body["endTime"] = _iso(self.end)
        if self.error is not None:
            body["error"] = dict(self.error)
        return body


@dataclass
class PoolRecord:
    """A pool as the service holds it (see the module invariants)."""

    name: str
    spec: AgentPoolSpec
    state: str
    etag: str
    error: dict[str, Any] | None = None
    instances: list[int] = field(default_factory=list)
    next_instance: int = 0
    operation: OperationRecord | None = None


class AgentPoolService:
    """The agentPools of one managed cluster, writing their Nodes into ``store``."""

    def __init__(
        self,
        store: Store,
        ids: ClusterIds,
        *,
        faults: ArmFaults,
        clock: Clock,
        provisioning_s: float,
        deletion_s: float,
        node_ready_after_s: float,
    ) -> None:
        self.store = store
        self.ids = ids
        self.faults = faults
        self.clock = clock
        self.provisioning_s = provisioning_s
        self.deletion_s = deletion_s
        self.node_ready_after_s = node_ready_after_s
        self.pools: dict[str, PoolRecord] = {}
        self.operations: dict[str, OperationRecord] = {}
        self._ready_timers: dict[str, Timer] = {}
        self.ready_due: dict[str, datetime.datetime] = {}  # Node name -> when it turns Ready
        self.addresses = 0  # internal IPs handed out so far (the next Node gets the next one)
        # Called after each change of pools, operations or due times (a write request, a timer's effect), so
        # a durable cluster can save them at once (kaito.sim.server.durable).
        self.on_change: Callable[[], None] | None = None

    # ------------------------------------------------------------------------------------ reads
    def render(self, pool: PoolRecord) -> dict[str, Any]:
        return render_agent_pool(
            self.ids, pool.name, pool.spec, provisioning_state=pool.state, etag=pool.etag, error=pool.error
        )

    def get(self, name: str) -> dict[str, Any]:
        """The pool's resource body; 404 ``NotFound`` when there is none."""
        return self.render(self._pool(name))

    def list(self) -> list[dict[str, Any]]:
        return [self.render(pool) for _, pool in sorted(self.pools.items())]

    def operation(self, operation_id: str) -> OperationRecord:
        record = self.operations.get(operation_id)
        if record is None:
            raise ArmError(
                404,
                "NotFound",
                f"Operation '{operation_id}' was not found in location '{self.ids.location}'; it was never "
                "started here or the server was restarted.",
            )
        return record

    def _pool(self, name: str) -> PoolRecord:
        pool = self.pools.get(name)
        if pool is None:
            raise ArmError(
                404,
                "NotFound",
                f"Could not find agent pool '{name}' in managed cluster '{self.ids.cluster_name}' "
                f"(resource group '{self.ids.resource_group}').",
            )
        return pool

    # ----------------------------------------------------------------------------------- writes
    def put(
        self, name: str, body: Any, *, if_match: str | None = None, if_none_match: str | None = None
    ) -> tuple[int, dict[str, Any], OperationRecord]:
        """Create (201) or update (200) a pool; the operation finishes later. Raises ArmError when refused."""
        spec = parse_agent_pool(name, body, self.ids)
        existing = self.pools.get(name)
        self._check_preconditions(name, existing, if_match=if_match, if_none_match=if_none_match)
        if existing is not None:
            if existing.operation is not None:
                raise self._busy(existing.operation)
            for attribute, wire in _IMMUTABLE:
                old, new = getattr(existing.spec, attribute), getattr(spec, attribute)
                if str(old).lower() != str(new).lower():
                    raise ArmError(
                        400,
                        "PropertyChangeNotAllowed",
                        f"Changing property 'properties.{wire}' of agent pool '{name}' "
                        f"from {old!r} to {new!r} "
                        "is not allowed; create a new agent pool instead.",
                    )
        size = self._size(spec)
        quota_error = self._quota_error(spec, size, existing)
        if quota_error is not None and (quota := self.faults.quota_for(size)) and quota.synchronous:
            raise quota_error

        kind = "update" if existing is not None else "create"
        record = OperationRecord(
            id=str(uuid.uuid4()),
            kind=kind,
            pool=name,
            start=self.clock.now(),
            previous=existing.spec if existing is not None else None,
        )
        if existing is None:
            pool = PoolRecord(name=name, spec=spec, state="Creating", etag=str(uuid.uuid4()))
            self.pools[name] = pool
        else:
            pool = existing
            pool.spec, pool.state, pool.etag, pool.error = spec, "Updating", str(uuid.uuid4()), None
        pool.operation = record
        self.operations[record.id] = record
        delay = self._put_delay()
        record.due = record.start + datetime.timedelta(seconds=delay)
        record.timer = self.clock.call_later(delay, self._guarded(lambda: self._finish_put(record)))
        return (200 if existing is not None else 201), self.render(pool), record

    def delete(self, name: str, *, if_match: str | None = None) -> OperationRecord | None:
        """Start deleting a pool; None when there is nothing to delete (ARM then answers 204)."""
        pool = self.pools.get(name)
        self._check_preconditions(name, pool, if_match=if_match, if_none_match=None)
        if pool is None:
            return None
        running = pool.operation
        if running is not None:
            if running.kind == "delete":
                return running
            if running.timer is not None:
                running.timer.cancel()
            self._end(
                running,
                "Canceled",
                {
                    "code": "OperationPreempted",
                    "message": f"The {running.kind} operation on agent pool '{name}' "
                    "was preempted by a "
                    "delete operation.",
                },
            )
        record = OperationRecord(id=str(uuid.uuid4()), kind="delete", pool=name, start=self.clock.now())
        pool.operation, pool.state = record, "Deleting"
        record.due = record.start + datetime.timedelta(seconds=self.deletion_s)
        self.operations[record.id] = record
        record.timer = self.clock.call_later(
            self.deletion_s, self._guarded(lambda: self._finish_delete(record))
        )
        return record

    def close(self) -> None:
        """Cancel every pending timer (operations and due times stay as they are, for a snapshot)."""
        for pool in self.pools.values():
            if pool.operation is not None and pool.operation.timer is not None:
                pool.operation.timer.cancel()
                pool.operation.timer = None
        for timer in self._ready_timers.values():
            timer.cancel()
        self._ready_timers.clear()

    def restore(
        self,
        pools: dict[str, PoolRecord],
        operations: dict[str, OperationRecord],
        *,
        ready_due: dict[str, datetime.datetime],
        addresses: int,
    ) -> None:
        """Take over the pools and operations of a stopped service and re-arm what was pending.

        Each in-progress operation finishes, and each registered Node turns Ready, at its saved due time
        or after its full configured delay from now, whichever comes first (see the module invariants).
        """
        if self.pools or self.operations:
            raise RuntimeError(
                f"restore needs an empty agent pool service; this one already holds pools "
                f"{sorted(self.pools)} and {len(self.operations)} operations"
            )
        self.pools, self.operations, self.addresses = dict(pools), dict(operations), addresses
        now = self.clock.now()
        for pool in self.pools.values():
            record = pool.operation
            if record is None:
                continue
            if record.kind == "delete":
                delay, finish = self.deletion_s, self._finish_delete
            else:
                delay, finish = self._put_delay(), self._finish_put
            record.timer = self.clock.call_later(
                _remaining(record.due, now, delay), self._guarded(functools.partial(finish, record))
            )
        for name, due in ready_due.items():
            self._arm_ready(name, _remaining(due, now, self.node_ready_after_s))

    # ------------------------------------------------------------------------------ operations end
    def _finish_put(self, record: OperationRecord) -> None:
        pool = self.pools[record.pool]
        spec = pool.spec
        size = self._size(spec)
        error: ArmError | None = None
        if spec.count > len(pool.instances):
            error = self._quota_error(spec, size, pool) or self.faults.operation_failure(
                size, location=self.ids.location
            )
        if error is not None:
            pool.state, pool.error, pool.operation = "Failed", error.detail(), None
            self._end(record, "Failed", error.detail())
            return
        self._converge_nodes(pool, size, record.previous)
        pool.state, pool.error, pool.operation = "Succeeded", None, None
        self._end(record, "Succeeded", None)

    def _finish_delete(self, record: OperationRecord) -> None:
        pool = self.pools.pop(record.pool)
        for instance in pool.instances:
            self._delete_node(node_name(pool.name, self.ids, instance))
        self._end(record, "Succeeded", None)

    def _end(self, record: OperationRecord, status: str, error: dict[str, Any] | None) -> None:
        record.status, record.error, record.end = status, error, self.clock.now()
        record.timer = record.due = None

    # ------------------------------------------------------------------------------------- nodes
    def _converge_nodes(self, pool: PoolRecord, size: VmSize, previous: AgentPoolSpec | None) -> None:
        if previous is not None and (
            previous.node_labels != pool.spec.node_labels or previous.node_taints != pool.spec.node_taints
        ):
            for instance in pool.instances:
                self._relabel(node_name(pool.name, self.ids, instance), previous, pool.spec)
        while len(pool.instances) > pool.spec.count:
            self._delete_node(node_name(pool.name, self.ids, pool.instances.pop()))
        while len(pool.instances) < pool.spec.count:
            instance = pool.next_instance
            pool.next_instance += 1
            pool.instances.append(instance)
            self._register_node(pool, size, instance)

    def _register_node(self, pool: PoolRecord, size: VmSize, instance: int) -> None:
        now = self.clock.now()
        node = new_node(pool.name, pool.spec, size, self.ids, instance, now)
        name = node["metadata"]["name"]
        try:
            stored = self.store.create("v1", "Node", node)
        except AlreadyExists:  # left over from an earlier run of the sim over a restored store: re-register
            current = self.store.get("v1", "Node", name)
            node["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            stored = self.store.update("v1", "Node", node)
        self.addresses += 1
        ip = f"10.224.{self.addresses // 250}.{self.addresses % 250 + 4}"
        stored["status"] = node_status(
            pool.spec,
            size,
            self.ids,
            name=name,
            internal_ip=ip,
            now=now,
            advertise_gpus=not self.faults.hide_gpus,
        )
        self.store.update("v1", "Node", stored, subresource="status")
        if not self.faults.nodes_never_ready:
            self._arm_ready(name, self.node_ready_after_s)

    def _arm_ready(self, name: str, delay: float) -> None:
        self.ready_due[name] = self.clock.now() + datetime.timedelta(seconds=delay)
        self._ready_timers[name] = self.clock.call_later(
            delay, self._guarded(functools.partial(self._make_ready, name))
        )

    def _make_ready(self, name: str) -> None:
        def post_ready(node: dict[str, Any]) -> None:
            node["status"] = mark_ready(node["status"], self.clock.now())

        self._ready_timers.pop(name, None)
        self.ready_due.pop(name, None)
        self._write_node(name, post_ready, status=True)  # the kubelet reports Ready ...
        self._write_node(name, _drop_not_ready_taint, status=False)  # ... the node controller lifts the taint

    def _relabel(self, name: str, previous: AgentPoolSpec, spec: AgentPoolSpec) -> None:
        def change(node: dict[str, Any]) -> None:
            labels = node["metadata"].setdefault("labels", {})
            for key in set(previous.node_labels) - set(spec.node_labels):
                labels.pop(key, None)
            labels.update(spec.node_labels)
            old = [parse_taint(taint) for taint in previous.node_taints]
            kept = [taint for taint in node["spec"].get("taints", []) if _strip(taint) not in old]
            node["spec"]["taints"] = [parse_taint(taint) for taint in spec.node_taints] + kept

        self._write_node(name, change, status=False)

    def _write_node(self, name: str, change: Callable[[dict[str, Any]], None], *, status: bool) -> None:
        for _ in range(3):  # another writer may bump the resourceVersion between get and update
            try:
                node = self.store.get("v1", "Node", name)
                change(node)
                self.store.update("v1", "Node", node, subresource="status" if status else None)
                return
            except NotFound:
                return
            except Conflict:
                continue
        log.warning("gave up updating Node %s after 3 conflicting writes", name)

    def _delete_node(self, name: str) -> None:
        timer = self._ready_timers.pop(name, None)
        self.ready_due.pop(name, None)
        if timer is not None:
            timer.cancel()
        with contextlib.suppress(NotFound):
            self.store.delete("v1", "Node", name)

    # ----------------------------------------------------------------------------------- helpers
    def _put_delay(self) -> float:
        return self.faults.provisioning_s if self.faults.provisioning_s is not None else self.provisioning_s

    def _size(self, spec: AgentPoolSpec) -> VmSize:
        size = find_vm_size(spec.vm_size)
        if size is None:  # parse_agent_pool already refused unknown sizes
            raise ArmError(400, "BadRequest", f"VM size {spec.vm_size!r} is unknown to this cloud.")
        return size

    def _quota_error(self, spec: AgentPoolSpec, size: VmSize, pool: PoolRecord | None) -> ArmError | None:
        quota = self.faults.quota_for(size)
        current = len(pool.instances) if pool is not None else 0
        if quota is None or spec.count <= current:
            return None
        usage = sum(
            len(other.instances) * other_size.vcpus
            for other in self.pools.values()
            if (other_size := find_vm_size(other.spec.vm_size)) is not None
            and other_size.family.lower() == size.family.lower()
        )
        required = (spec.count - current) * size.vcpus
        if usage + required <= quota.limit_vcpus:
            return None
        return quota_exceeded(
            cluster=self.ids.cluster_name,
            node_resource_group=self.ids.node_resource_group,
            family=quota.family,
            location=self.ids.location,
            limit=quota.limit_vcpus,
            usage=usage,
            required=required,
        )

    def _busy(self, running: OperationRecord) -> ArmError:
        return ArmError(
            409,
            "OperationNotAllowed",
            "Operation is not allowed because there's an in progress "
            f"{running.kind} node pool operation with Correlation id '{running.id}' started at "
            f"{_iso(running.start)}. Please wait for it to finish before starting a new operation.",
        )

    def _check_preconditions(
        self, name: str, pool: PoolRecord | None, *, if_match: str | None, if_none_match: str | None
    ) -> None:
        if if_none_match == "*" and pool is not None:
            raise ArmError(
                412,
                "PreconditionFailed",
                f"Agent pool '{name}' already exists and the request said If-None-Match: *; "
                "drop the header to update it.",
            )
        if if_match is not None and (pool is None or (if_match != "*" and if_match.strip('"') != pool.etag)):
            current = "it does not exist" if pool is None else f"its eTag is '{pool.etag}'"
            raise ArmError(
                412,
                "PreconditionFailed",
                f"If-Match '{if_match}' does not match agent pool '{name}': {current}.",
            )

    def changed(self) -> None:
        """Tell :attr:`on_change` (if set) that the pools, operations or due times changed."""
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:
                log.exception("saving the ARM simulator's state failed")

    def _guarded(self, effect: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                effect()
            except Exception:  # a timer callback has no caller to raise to; keep the loop alive
                log.exception("ARM simulator timer failed")
            self.changed()

        return run


def _remaining(due: datetime.datetime | None, now: datetime.datetime, full: float) -> float:
    """Seconds until ``due``, at least 0 and at most ``full`` (no due time: ``full``)."""
    if due is None:
        return full
    return max(0.0, min((due - now).total_seconds(), full))


def _strip(taint: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in taint.items() if key != "timeAdded"}


def _drop_not_ready_taint(node: dict[str, Any]) -> None:
    node["spec"]["taints"] = [t for t in node["spec"].get("taints", []) if t.get("key") != NOT_READY_TAINT]
    if not node["spec"]["taints"]:
        del node["spec"]["taints"]
