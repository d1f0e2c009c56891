"""The Machine reconciler: makes each Machine a real GPU node through its provisioner, and cleans up.

One reconcile, level-triggered (it never assumes the previous one finished):

1. The Machine comes parsed from the manager's cache (a typed primary: `for_(Machine)`). Gone: nothing to
   do. Every write carries its resourceVersion, so a decision made on a stale copy ends in Conflict and
   a fresh reconcile, never in a lost update.
2. Being deleted: delete the cloud resource, requeue until the provisioner reports it GONE, then drop the
   `kaito.sh/machine-cleanup` finalizer. Nothing else is cordoned or drained: we only remove what we made.
3. Failed for good: make sure its cloud resource is deleted (requeue until GONE); never retry in place.
4. Otherwise: add the finalizer, observe the cloud (`provisioner.get`), create when nothing exists and no
   create was requested before, find the Node (by the `kaito.sh/machine` label, confirmed by
   `provisioner.matches`), and let `machine_status.plan_machine` decide the next status. The status is
   written once, at the end, and only when it changed (optimistic concurrency on resourceVersion).

Retryable cloud errors (throttling, 5xx, an operation in progress) requeue after the cloud's Retry-After
(else `retry_interval`) with a Warning Event; quota, capacity and permanent errors fail the Machine with the
cloud's message. Nodes and every kind a provisioner names in `watched_kinds()` (Karpenter's NodeClaims)
wake the Machine named by their `kaito.sh/machine` label, so registration is noticed at once; agent pools
are polled every `poll_interval` while a Machine is not Ready.

Wire it into a manager with `add_machine_controller(manager, provisioners, options)`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from kaito import ctrl
from kaito.api import names
from kaito.api.machine import Machine, MachineStatus
from kaito.controllers.machine_status import (
    MachineEvent,
    MachineObservation,
    MachineTimeouts,
    changed,
    launch_requested,
    launch_time_left,
    plan_machine,
)
from kaito.controllers.own_writes import OwnWrites
from kaito.provisioners.base import (
    ObservedState,
    Phase,
    Provisioner,
    ProvisionerError,
    ProvisionerRegistry,
    RetryableError,
)

__all__ = [
    "MACHINE",
    "NODE",
    "MachineControllerOptions",
    "MachineReconciler",
    "add_machine_controller",
    "machine_for_labelled_object",
]

log = logging.getLogger("kaito.controllers.machine")

MACHINE: Final = ctrl.GVK(names.API_VERSION, names.KIND_MACHINE)
NODE: Final = ctrl.GVK("v1", "Node")
COMPONENT: Final = "kaito-machine-controller"


@dataclass(frozen=True)
class MachineControllerOptions:
    """Timings of the Machine controller (seconds)."""

    launch_timeout: float = 30 * 60.0  # not Launched this long after creation: failed, resource deleted
    registration_timeout: float = 15 * 60.0  # Launched but no Node this long: failed, resource deleted
    initialization_timeout: float = 15 * 60.0  # Registered but never Ready with GPUs this long: failed
    node_lost_timeout: float = 10 * 60.0  # its Node gone after registering this long: failed, replaced
    poll_interval: float = 10.0  # how often to look at a cloud resource that is not there yet
    retry_interval: float = 5.0  # retryable errors without a Retry-After
    max_concurrent_reconciles: int = 4

    @property
    def timeouts(self) -> MachineTimeouts:
        """The timings the Machine's pure status planner needs."""
        return MachineTimeouts(
            launch_timeout=self.launch_timeout,
            poll_interval=self.poll_interval,
            registration_timeout=self.registration_timeout,
            initialization_timeout=self.initialization_timeout,
            node_lost_timeout=self.node_lost_timeout,
        )

    def __post_init__(self) -> None:
        for label in (
            "launch_timeout",
            "registration_timeout",
            "initialization_timeout",
            "node_lost_timeout",
            "poll_interval",
            "retry_interval",
        ):
            if getattr(self, label) <= 0:
                raise ValueError(
                    f"MachineControllerOptions.{label} is {getattr(self, label)}; give seconds > 0"
                )
        if self.max_concurrent_reconciles < 1:
            raise ValueError(
                f"MachineControllerOptions.max_concurrent_reconciles is {self.max_concurrent_reconciles}; "
                "give 1 or more"
            )


def machine_for_labelled_object(obj: Mapping[str, Any]) -> list[ctrl.Request]:
    """The Machine a Node (or NodeClaim) belongs to, from its `kaito.sh/machine` label."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    name = labels.get(names.LABEL_MACHINE)
    return [ctrl.Request("", name)] if name else []


class MachineReconciler:
    """See the module docstring."""

    def __init__(
        self,
        client: ctrl.CachedClient,
        provisioners: ProvisionerRegistry,
        recorder: ctrl.EventRecorder,
        *,
        clock: ctrl.Clock | None = None,
        options: MachineControllerOptions | None = None,
    ) -> None:
        self.client = client
        self.provisioners = provisioners
        self.recorder = recorder
        self.clock: ctrl.Clock = clock or ctrl.SystemClock()
        self.options = options or MachineControllerOptions()
        # our last write of each Machine, while the cache lags it (see own_writes)
        self._own_writes: OwnWrites[Machine] = OwnWrites()

    async def reconcile(self, request: ctrl.Request, machine: Machine | None) -> ctrl.Result:
        if machine is None:
            self._own_writes.forget(request.name)
            return ctrl.Result()
        machine = self._own_writes.view(request.name, machine, machine.metadata.resource_version)
        obj = ctrl.to_dict(machine)
        try:
            provisioner = self.provisioners.for_machine(machine)
        except ProvisionerError as exc:
            return await self._unprovisionable(obj, machine, exc)
        try:
            if machine.metadata.deletion_timestamp is not None:
                return await self._finalize(obj, machine, provisioner)
            if machine.status is not None and machine.status.failed:
                return await self._clean_up(machine, provisioner)
            obj, machine = await self._ensure_finalizer(obj, machine)
            return await self._converge(obj, machine, provisioner)
        except RetryableError as exc:
            # Retry-After 0 (or none) waits retry_interval: Result(requeue_after=0) would requeue nothing
            delay = exc.retry_after or self.options.retry_interval
            await self.recorder.warning(obj, exc.reason, exc.message or exc.reason)
            log.info("machine %s: %s; retrying in %gs", request.name, exc, delay)
            return ctrl.Result(requeue_after=delay)
        except ctrl.Conflict:
            return ctrl.Result(requeue=True)  # our copy went stale between read and write: read again

    # ---- phases -------------------------------------------------------------------------------------

    async def _converge(self, obj: dict[str, Any], machine: Machine, provisioner: Provisioner) -> ctrl.Result:
        observed = await provisioner.get(machine)
        events: list[MachineEvent] = []
        refused = False  # a create the cloud refused outright: nothing was made, nothing to delete
        now = self.clock.now()
        if (
            observed.phase is Phase.GONE
            and not launch_requested(machine.status)
            and launch_time_left(machine, now, self.options.launch_timeout) > 0
        ):
            observed, refused = await self._create(machine, provisioner, observed)
        elif observed.phase is Phase.FAILED and observed.retryable:
            await provisioner.delete(machine)  # a transient failure: remove the wreck, create again later
            events.append(
                MachineEvent("Warning", observed.reason or "ProvisioningFailed", observed.message or "")
            )
            observed = ObservedState.deleting(observed.resource)
        node = await self._find_node(machine, provisioner, observed)
        decision = plan_machine(MachineObservation(machine, observed, node, now), self.options.timeouts)
        requeue = decision.requeue_after
        if decision.delete_cloud_resource and observed.exists and not refused:
            if observed.phase is not Phase.DELETING:
                await provisioner.delete(machine)
            requeue = self.options.poll_interval  # come back to see it gone
        await self._write_status(obj, machine.status, decision.status)
        for event in (*events, *decision.events):
            await self.recorder.event(obj, event.type, event.reason, event.message)
        return ctrl.Result(requeue_after=requeue) if requeue is not None else ctrl.Result()

    async def _create(
        self, machine: Machine, provisioner: Provisioner, observed: ObservedState
    ) -> tuple[ObservedState, bool]:
        """What exists after asking for the node, and whether the cloud refused outright.

        No Event: the status written next says Launching, naming the resource requested."""
        try:
            return await provisioner.create(machine), False
        except RetryableError:
            raise
        except ProvisionerError as exc:
            return ObservedState.failed(exc.reason, exc.message, resource=observed.resource), True

    async def _clean_up(self, machine: Machine, provisioner: Provisioner) -> ctrl.Result:
        observed = await provisioner.get(machine)
        if not observed.exists:
            return ctrl.Result()
        if observed.phase is not Phase.DELETING:
            await provisioner.delete(machine)
        return ctrl.Result(requeue_after=self.options.poll_interval)

    async def _finalize(self, obj: dict[str, Any], machine: Machine, provisioner: Provisioner) -> ctrl.Result:
        if names.FINALIZER_MACHINE_CLEANUP not in (machine.metadata.finalizers or []):
            return ctrl.Result()
        observed = await provisioner.get(machine)
        if observed.exists:
            if observed.phase is not Phase.DELETING:
                await provisioner.delete(machine)
                await self.recorder.normal(
                    obj, "Deleting", f"Deleting {observed.resource or 'the cloud resource'} of this Machine."
                )
            return ctrl.Result(requeue_after=self.options.poll_interval)
        await self._set_finalizers(
            obj, [f for f in machine.metadata.finalizers or [] if f != names.FINALIZER_MACHINE_CLEANUP]
        )
        await self.recorder.normal(
            obj, "Deleted", f"{(observed.resource or 'The cloud resource').capitalize()} is gone."
        )
        return ctrl.Result()

    async def _unprovisionable(
        self, obj: dict[str, Any], machine: Machine, exc: ProvisionerError
    ) -> ctrl.Result:
        if machine.metadata.deletion_timestamp is not None:
            # we never created anything for it, so nothing is left to clean up
            finalizers = machine.metadata.finalizers or []
            if names.FINALIZER_MACHINE_CLEANUP in finalizers:
                await self._set_finalizers(
                    obj, [f for f in finalizers if f != names.FINALIZER_MACHINE_CLEANUP]
                )
            return ctrl.Result()
        old = machine.status or MachineStatus()
        if old.failed:
            return ctrl.Result()
        new = old.model_copy(update={"failure_reason": exc.reason, "failure_message": exc.message})
        await self._write_status(obj, machine.status, new)
        await self.recorder.warning(obj, exc.reason, exc.message)
        return ctrl.Result()

    # ---- I/O helpers --------------------------------------------------------------------------------

    def _remember(self, before: dict[str, Any], written: dict[str, Any]) -> None:
        """The cache lags our own writes by a watch event: keep what we wrote, so the next reconcile neither
        repeats the work nor ends in Conflict."""
        name = (written.get("metadata") or {}).get("name", "")
        with contextlib.suppress(ValidationError):
            parsed = Machine.model_validate(written)
            replaced = (before.get("metadata") or {}).get("resourceVersion")
            self._own_writes.remember(name, replaced, parsed, parsed.metadata.resource_version)

    async def _find_node(
        self, machine: Machine, provisioner: Provisioner, observed: ObservedState
    ) -> Mapping[str, Any] | None:
        name = machine.metadata.name or ""
        labelled = await self.client.list(NODE, label_selector=f"{names.LABEL_MACHINE}={name}")
        candidates = list(labelled.items)
        if observed.node_name:
            with contextlib.suppress(ctrl.NotFound):
                candidates.append(await self.client.get(NODE, observed.node_name))
        matching = [node for node in candidates if provisioner.matches(node, machine)]
        if observed.provider_id:
            exact = [n for n in matching if (n.get("spec") or {}).get("providerID") == observed.provider_id]
            matching = exact or matching
        if not matching:
            return None
        found: Mapping[str, Any] = min(matching, key=lambda n: (n.get("metadata") or {}).get("name", ""))
        return found

    async def _ensure_finalizer(
        self, obj: dict[str, Any], machine: Machine
    ) -> tuple[dict[str, Any], Machine]:
        finalizers = list(machine.metadata.finalizers or [])
        if names.FINALIZER_MACHINE_CLEANUP in finalizers:
            return obj, machine
        updated = await self._set_finalizers(obj, [*finalizers, names.FINALIZER_MACHINE_CLEANUP])
        return updated, Machine.model_validate(updated)

    async def _set_finalizers(self, obj: dict[str, Any], finalizers: list[str]) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta.get("resourceVersion")}}
        updated: dict[str, Any] = await self.client.patch(MACHINE, meta.get("name", ""), patch)
        self._remember(obj, updated)
        return updated

    async def _write_status(self, obj: dict[str, Any], old: MachineStatus | None, new: MachineStatus) -> None:
        """PUT the status when it changed; `obj` then becomes the server's copy (Events cite its version)."""
        if not changed(old, new):
            return
        body = dict(obj)
        body["status"] = new.model_dump(mode="json", by_alias=True, exclude_none=True)
        written = await self.client.update_status(body)
        self._remember(obj, written)
        obj.clear()
        obj.update(written)


def add_machine_controller(
    manager: ctrl.Manager,
    provisioners: ProvisionerRegistry,
    options: MachineControllerOptions | None = None,
    *,
    name: str = "machine",
) -> MachineReconciler:
    """Register the Machine controller with `manager`: watches Machines, Nodes and the provisioners' kinds.

    The returned reconciler is already added; `manager.run()` starts it.
    """
    options = options or MachineControllerOptions()
    reconciler = MachineReconciler(
        manager.cached_client,
        provisioners,
        manager.event_recorder(COMPONENT),
        clock=manager.clock,
        options=options,
    )
    builder = (
        ctrl.ControllerBuilder(manager)
        .named(name)
        .for_(Machine)
        .watches(NODE, machine_for_labelled_object)
        .with_options(max_concurrent_reconciles=options.max_concurrent_reconciles)
    )
    seen: set[tuple[str, str]] = set()
    for provisioner in provisioners.all():
        for kind in provisioner.watched_kinds():
            if kind not in seen:
                seen.add(kind)
                builder = builder.watches(ctrl.GVK(*kind), machine_for_labelled_object)
                transform = provisioner.cache_transform(kind)
                if transform is not None:
                    manager.informers.add_transform(ctrl.GVK(*kind), transform)
    builder.complete(reconciler)
    return reconciler
