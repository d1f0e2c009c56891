"""The orphan sweep: cloud resources whose Machine no longer exists are deleted (failure mode 11).

A Machine's finalizer normally guarantees its agent pool or NodeClaim is deleted before the Machine goes.
Two ways around it leak a GPU node that bills until someone notices: the Machine is force-deleted (its
finalizer removed by hand), or a create raced the Machine's delete. Like gpu-provisioner's instance
garbage collector, `OrphanSweeper` therefore lists, every `interval` seconds (default 2 min), what each
provisioner made (`Provisioner.list()`, by its owner tags/labels only) and deletes what belongs to no
Machine once it is at least `min_age` old (default 30 s, gpu-provisioner's).

Invariants:
- Only `OwnedResource`s are ever deleted, and a provisioner lists only what carries its ownership marks
  (kaito's tags on a pool, our node pool and `kaito.sh/machine` labels on a NodeClaim): nothing another
  tool made is touched.
- The cloud is listed before the Machines (a fresh LIST from the API server, not a cache), so a resource
  whose Machine existed when the cloud was read is always matched: a Machine is created before its
  resource, so a resource with no Machine in the later list really has none.
- A resource counts as its Machine's only when the Machine resolves to the same provisioner (its
  `spec.provisioner`, else the registry's default): a pool made for a Machine that now names Karpenter is
  an orphan too.
- Age is the resource's own creation time when the cloud records it, else the time this sweeper first saw
  it (`first_seen`, forgotten once the resource is gone or owned again), so a younger resource is never
  collected.

Each collection is logged and recorded as a Normal Event `OrphanCollected` on the (gone) Machine, so
`kubectl get events --field-selector involvedObject.name=<machine>` says what happened to its node.
`decide_orphans` is the pure decision; `OrphanSweeper.sweep()` one pass; `run()` the leader-elected loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from kaito import ctrl
from kaito.api import names
from kaito.controllers.machine import MACHINE
from kaito.controllers.machine_status import format_duration
from kaito.provisioners.base import OwnedResource, ProvisionerError, ProvisionerRegistry

__all__ = [
    "REASON_ORPHAN_COLLECTED",
    "Orphan",
    "OrphanSweepOptions",
    "OrphanSweeper",
    "add_orphan_sweeper",
    "decide_orphans",
]

log = logging.getLogger("kaito.controllers.orphans")

REASON_ORPHAN_COLLECTED: Final = "OrphanCollected"
COMPONENT: Final = "kaito-orphan-sweeper"


@dataclass(frozen=True)
class OrphanSweepOptions:
    """How often to sweep and how old an orphan must be (seconds); defaults are gpu-provisioner's."""

    interval: float = 120.0
    min_age: float = 30.0

    def __post_init__(self) -> None:
        if self.interval <= 0:
            raise ValueError(f"OrphanSweepOptions.interval is {self.interval}; give seconds > 0")
        if self.min_age < 0:
            raise ValueError(f"OrphanSweepOptions.min_age is {self.min_age}; give seconds >= 0")


@dataclass(frozen=True)
class Orphan:
    """A resource to collect: which provisioner made it, what it is, and how old it is (seconds)."""

    provisioner: str
    owned: OwnedResource
    age: float


def decide_orphans(
    provisioner: str,
    owned: Iterable[OwnedResource],
    machines: Iterable[str],
    *,
    now: datetime,
    min_age: float,
    first_seen: Mapping[str, datetime],
) -> list[Orphan]:
    """The resources of `provisioner` to delete now: no Machine in `machines`, not already deleting, and at
    least `min_age` old (by `created`, else by `first_seen[name]`; never seen before counts as age 0)."""
    live = set(machines)
    orphans = []
    for resource in owned:
        if resource.machine in live or resource.deleting:
            continue
        since = resource.created or first_seen.get(resource.name) or now
        age = (now - since).total_seconds()
        if age >= min_age:
            orphans.append(Orphan(provisioner, resource, age))
    return orphans


_MACHINE_PAGE: Final = 100  # Machines per LIST page of the sweep


def _machines_by_provisioner(machines: Iterable[Mapping[str, Any]], default: str) -> dict[str, set[str]]:
    by: dict[str, set[str]] = {}
    for machine in machines:
        name = (machine.get("metadata") or {}).get("name")
        if not name:
            continue
        provisioner = (machine.get("spec") or {}).get("provisioner") or default
        by.setdefault(str(provisioner), set()).add(str(name))
    return by


class OrphanSweeper:
    """Deletes cloud resources whose Machine is gone (see the module docstring). A leader-only runnable."""

    need_leader_election = True

    def __init__(
        self,
        client: ctrl.Client,
        provisioners: ProvisionerRegistry,
        recorder: ctrl.EventRecorder,
        *,
        clock: ctrl.Clock | None = None,
        options: OrphanSweepOptions | None = None,
    ) -> None:
        self.client = client
        self.provisioners = provisioners
        self.recorder = recorder
        self.clock: ctrl.Clock = clock or ctrl.SystemClock()
        self.options = options or OrphanSweepOptions()
        self.first_seen: dict[tuple[str, str], datetime] = {}  # (provisioner, resource name) -> first seen
        self.collected: list[Orphan] = []  # every orphan this sweeper deleted, oldest first

    async def _live_machines(self) -> dict[str, set[str]]:
        """Machine names by provisioner, from a fresh paged LIST: one page of Machines in memory at a time,
        not every Machine of the cluster at once every `interval` (a spike in the operator's memory)."""
        by_provisioner: dict[str, set[str]] = {}
        token: str | None = None
        while True:
            page = await self.client.list(MACHINE, limit=_MACHINE_PAGE, continue_token=token)
            for name, names_ in _machines_by_provisioner(page.items, self.provisioners.default).items():
                by_provisioner.setdefault(name, set()).update(names_)
            if not page.continue_token:
                return by_provisioner
            token = page.continue_token

    async def sweep(self) -> list[Orphan]:
        """One pass over every provisioner; the orphans deleted in it."""
        listed: dict[str, Sequence[OwnedResource]] = {}
        for provisioner in self.provisioners.all():
            try:
                listed[provisioner.name] = await provisioner.list()
            except ProvisionerError as exc:  # one cloud failing must not stop the sweep of another
                log.warning("orphan sweep: cannot list %s resources: %s", provisioner.name, exc)
        by_provisioner = await self._live_machines()  # after the cloud: see the module docstring
        now = self.clock.now()
        collected: list[Orphan] = []
        seen: set[tuple[str, str]] = set()
        for name, owned in listed.items():
            live = by_provisioner.get(name, set())
            for resource in owned:
                if resource.machine not in live:
                    seen.add((name, resource.name))
                    self.first_seen.setdefault((name, resource.name), now)
            first_seen = {r: t for (p, r), t in self.first_seen.items() if p == name}
            orphans = decide_orphans(
                name, owned, live, now=now, min_age=self.options.min_age, first_seen=first_seen
            )
            for orphan in orphans:
                if await self._collect(orphan):
                    collected.append(orphan)
        for key in set(self.first_seen) - seen:
            if key[0] in listed:
                del self.first_seen[key]
        self.collected.extend(collected)
        return collected

    async def _collect(self, orphan: Orphan) -> bool:
        resource = orphan.owned.resource or orphan.owned.name
        try:
            await self.provisioners.get(orphan.provisioner).delete_owned(orphan.owned)
        except ProvisionerError as exc:
            log.warning("orphan sweep: cannot delete %s: %s", resource, exc)
            return False
        message = (
            f"Deleting {resource}: it was made by provisioner {orphan.provisioner} for Machine "
            f"{orphan.owned.machine}, which no longer exists (orphaned for {format_duration(orphan.age)}, "
            f"minimum age {format_duration(self.options.min_age)})."
        )
        log.info("orphan sweep: %s", message)
        gone_machine = {
            "apiVersion": names.API_VERSION,
            "kind": names.KIND_MACHINE,
            "metadata": {"name": orphan.owned.machine},
        }
        try:
            await self.recorder.normal(gone_machine, REASON_ORPHAN_COLLECTED, message)
        except ctrl.CtrlError as exc:  # the deletion happened; a lost Event must not hide it from the log
            log.warning("orphan sweep: cannot record the Event for %s: %s", resource, exc)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep now, then every `interval` seconds, until `stop` is set."""
        while not stop.is_set():
            try:
                await self.sweep()
            except ctrl.CtrlError as exc:  # the API server is unreachable: try again next interval
                log.warning("orphan sweep: cannot list Machines: %s", exc)
            sleep = asyncio.ensure_future(self.clock.sleep(self.options.interval))
            stopped = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({sleep, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (sleep, stopped):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task


def add_orphan_sweeper(
    manager: ctrl.Manager, provisioners: ProvisionerRegistry, options: OrphanSweepOptions | None = None
) -> OrphanSweeper:
    """Run an `OrphanSweeper` with `manager` (on the leader only); returns it."""
    sweeper = OrphanSweeper(
        manager.client,
        provisioners,
        manager.event_recorder(COMPONENT),
        clock=manager.clock,
        options=options,
    )
    manager.add(sweeper)
    return sweeper
