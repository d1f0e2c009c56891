"""The base of the workload controllers: what the simulator lends each one, and what ``sync`` promises.

:class:`~kaito.sim.workloads.simulator.WorkloadSimulator` owns the watches, the work queue and the timers;
each controller (:mod:`~kaito.sim.workloads.deployments`, :mod:`~kaito.sim.workloads.replicasets`,
:mod:`~kaito.sim.workloads.statefulsets`, :mod:`~kaito.sim.workloads.jobs`) owns the reconcile of one kind.
The simulator lends it a :class:`ControllerContext`: the store, the event recorder, the clock, and
``requeue_after(delay, key)``, which queues a work-queue :data:`Key` after ``delay`` seconds (an earlier
timer for the same key wins). That is a controller's only way to wait, for a deadline, a back-off or
``minReadySeconds``: it never sleeps and owns no task.

What ``sync(namespace, name)`` promises: it is synchronous (the store is), so it reads and writes a
consistent world, atomic with respect to everything else on the loop; it is level-triggered and idempotent,
reading the current objects each time and writing status only when it changed. It may raise the store's
errors: the simulator's worker retries a Conflict or another ApiError later, and drops a NotFound (the object
went away; its DELETED event follows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kaito.sim.server.store import Store
from kaito.sim.workloads.object_index import ObjectIndex
from kaito.sim.workloads.recorder import EventRecorder

__all__ = ["ControllerContext", "Key", "Requeue", "WorkloadController"]

Key = tuple[str, str, str]  # (what, namespace, name): what the work queue holds
Requeue = Callable[[float, Key], None]  # queue a key after a delay in seconds


@dataclass(frozen=True)
class ControllerContext:
    """What the simulator lends every controller: its store, event recorder, clock, timers and index."""

    store: Store
    recorder: EventRecorder
    clock: Callable[[], datetime]
    requeue_after: Requeue
    index: ObjectIndex


class WorkloadController:
    """A controller of one workload kind, over what the simulator lends it."""

    def __init__(self, context: ControllerContext) -> None:
        self.store = context.store
        self.recorder = context.recorder
        self._clock = context.clock
        self._after = context.requeue_after
        self.index = context.index

    def _get_live(
        self, api_version: str, kind: str, namespace: str, name: str, *, copy: bool = True
    ) -> dict[str, Any] | None:
        """The object to reconcile, or None while it is being deleted (a controller leaves it alone);
        ``copy=False`` gives the store's own dict, for a controller that never mutates it."""
        obj = self.store.get(api_version, kind, name, namespace, copy=copy)
        return None if obj["metadata"].get("deletionTimestamp") else obj
