"""The garbage collector and namespace controller of the simulated cluster (kube-controller-manager's parts).

Driven by the store's change notifications, not by polling: a synchronous listener on the store
(:meth:`Store.add_listener`) keeps an ownership index up to date and marks what needs attention; the async
:meth:`GarbageCollector.run` loop wakes on those marks and acts with ordinary store calls. Acting in the
listener itself would re-enter the store in the middle of a commit, hence the split. :meth:`collect_once`
rebuilds the index from the store and runs to a fixed point synchronously (for tests and at start-up).

Index invariants (exact after every change the listener saw):
- ``_where[uid]`` is the (group, plural, namespace, name) of the live object with that uid;
- ``_dependents[owner_uid]`` holds the locations of live objects with an ownerReference to ``owner_uid``.

Policies, as kube's garbage collector applies them:
- background: an object whose owners are all gone is deleted; a reference to a gone owner, when other owners
  remain, is removed from the dependent instead;
- foreground: an owner carrying the ``foregroundDeletion`` finalizer has its dependents deleted, and loses the
  finalizer (so the store deletes it) once no dependent with ``blockOwnerDeletion: true`` remains;
- orphan: an owner carrying the ``orphan`` finalizer has its references removed from every dependent, then
  loses the finalizer;
- namespaces: a Terminating namespace has everything in it deleted; when nothing is left its ``kubernetes``
  finalizer is removed through the ``finalize`` subresource and the store deletes it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kaito.sim.server.errors import ApiError
from kaito.sim.server.resources import ResourceType
from kaito.sim.server.store import Store
from kaito.sim.server.watch import Change

__all__ = ["GarbageCollector"]

log = logging.getLogger(__name__)

Location = tuple[str, str, str, str]  # group, plural, namespace, name
_FOREGROUND = "foregroundDeletion"
_ORPHAN = "orphan"
_NAMESPACES = ("", "namespaces")
_MAX_ROUNDS = 1000


def _refs(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    if obj is None:
        return []
    return [r for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if isinstance(r, dict)]


class GarbageCollector:
    """Owner-reference garbage collection and namespace emptying over one :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._where: dict[str, Location] = {}
        self._dependents: dict[str, set[Location]] = {}
        self._dirty_owners: set[str] = set()
        self._dirty_dependents: set[Location] = set()
        self._dirty_namespaces: set[str] = set()
        self._wake = asyncio.Event()
        self._rebuild()
        self._remove_listener = store.add_listener(self._on_change)

    def close(self) -> None:
        """Stop listening to the store."""
        self._remove_listener()

    # ------------------------------------------------------------------------------------------ index
    def _rebuild(self) -> None:
        self._where.clear()
        self._dependents.clear()
        for rt, obj in self.store.objects():
            md = obj.get("metadata") or {}
            loc = (rt.group, rt.plural, str(md.get("namespace", "")) if rt.namespaced else "", md["name"])
            if md.get("uid"):
                self._where[md["uid"]] = loc
                if md.get("deletionTimestamp"):
                    self._dirty_owners.add(md["uid"])
            for ref in _refs(obj):
                self._dependents.setdefault(str(ref.get("uid")), set()).add(loc)
                self._dirty_dependents.add(loc)
            if (rt.group, rt.plural) == _NAMESPACES and md.get("deletionTimestamp"):
                self._dirty_namespaces.add(md["name"])

    def _on_change(self, change: Change) -> None:
        md = change.object.get("metadata") or {}
        uid = str(md.get("uid") or "")
        loc = (change.key[0], change.key[1], change.namespace, str(md.get("name")))
        old_owners = {str(r.get("uid")) for r in _refs(change.prev)}
        new_owners = set() if change.type == "DELETED" else {str(r.get("uid")) for r in _refs(change.object)}
        for owner in old_owners - new_owners:
            deps = self._dependents.get(owner)
            if deps is not None:
                deps.discard(loc)
                if not deps:
                    del self._dependents[owner]
            self._dirty_owners.add(owner)  # a foreground owner may be waiting for this dependent
        for owner in new_owners - old_owners:
            self._dependents.setdefault(owner, set()).add(loc)
        if change.type == "DELETED":
            if uid:
                self._where.pop(uid, None)
                self._dirty_owners.add(uid)
            for owner in old_owners:
                self._dirty_owners.add(owner)
            if change.namespace:
                self._dirty_namespaces.add(change.namespace)
        else:
            if uid:
                self._where[uid] = loc
            if new_owners - old_owners:
                self._dirty_dependents.add(loc)
            if md.get("deletionTimestamp") and uid:
                self._dirty_owners.add(uid)
                if change.key == _NAMESPACES:
                    self._dirty_namespaces.add(loc[3])
        if self._dirty_owners or self._dirty_dependents or self._dirty_namespaces:
            self._wake.set()

    # ------------------------------------------------------------------------------------------ loop
    async def run(self) -> None:
        """Act on every change until cancelled."""
        try:
            self.process()
            while True:
                await self._wake.wait()
                self._wake.clear()
                self.process()
                await asyncio.sleep(0)  # let the writers that woke us run between bursts
        finally:
            self.close()

    def collect_once(self) -> int:
        """Rebuild the index from the store and act until nothing is left to do; returns the actions taken."""
        self._rebuild()
        return self.process()

    def process(self) -> int:
        """Handle what the listener marked, until a fixed point; returns the number of store writes made."""
        actions = 0
        for _ in range(_MAX_ROUNDS):
            if not (self._dirty_owners or self._dirty_dependents or self._dirty_namespaces):
                break
            owners, self._dirty_owners = self._dirty_owners, set()
            dependents, self._dirty_dependents = self._dirty_dependents, set()
            namespaces, self._dirty_namespaces = self._dirty_namespaces, set()
            for uid in owners:
                actions += self._handle_owner(uid)
            for loc in dependents:
                actions += self._check_dependent(loc)
            for ns in namespaces:
                actions += self._empty_namespace(ns)
        self._wake.clear()
        return actions

    # ------------------------------------------------------------------------------------------ helpers
    def _get(self, loc: Location) -> tuple[ResourceType, dict[str, Any]] | None:
        rt = self.store.type_for(loc[0], loc[1])
        obj = self.store.peek((loc[0], loc[1]), loc[2], loc[3])
        if rt is None or obj is None:
            return None
        return rt, obj

    def _alive(self, uid: str) -> dict[str, Any] | None:
        loc = self._where.get(uid)
        found = self._get(loc) if loc is not None else None
        if found is None or (found[1].get("metadata") or {}).get("uid") != uid:
            return None
        return found[1]

    def _try(self, what: str, action: Any, *args: Any, **kwargs: Any) -> int:
        try:
            action(*args, **kwargs)
        except ApiError as e:  # a concurrent writer got there first; the next change re-marks what matters
            log.debug("garbage collector could not %s: %s", what, e.message)
            return 0
        return 1

    def _delete(self, rt: ResourceType, obj: dict[str, Any], propagation: str = "Background") -> int:
        md = obj["metadata"]
        if md.get("deletionTimestamp"):
            return 0
        return self._try(
            f"delete {rt.qualified_resource}/{md['name']}",
            self.store.delete,
            rt.api_version,
            rt.kind,
            md["name"],
            md.get("namespace"),
            propagation=propagation,
            preconditions={"uid": md.get("uid")},
        )

    def _set_finalizers(self, rt: ResourceType, obj: dict[str, Any], finalizers: list[str]) -> int:
        return self._patch_metadata(rt, obj, "finalizers", finalizers, "update finalizers of")

    def _drop_refs(self, rt: ResourceType, obj: dict[str, Any], owner_uids: set[str]) -> int:
        refs = [r for r in _refs(obj) if str(r.get("uid")) not in owner_uids]
        return self._patch_metadata(rt, obj, "ownerReferences", refs, "remove owner references from")

    def _patch_metadata(
        self, rt: ResourceType, obj: dict[str, Any], field: str, value: list[Any], what: str
    ) -> int:
        """Merge-patch ``metadata.<field>`` to ``value`` (removed when empty) while ``obj``'s uid holds."""
        md = obj["metadata"]
        patch = {"metadata": {field: value or None, "uid": md.get("uid")}}
        return self._try(
            f"{what} {rt.qualified_resource}/{md['name']}",
            self.store.patch,
            rt.api_version,
            rt.kind,
            md["name"],
            patch,
            "application/merge-patch+json",
            md.get("namespace"),
        )

    def _live_dependents(self, uid: str) -> list[tuple[ResourceType, dict[str, Any], dict[str, Any]]]:
        """(type, dependent, its reference to ``uid``) for every live dependent of ``uid``."""
        out = []
        for loc in list(self._dependents.get(uid, ())):
            found = self._get(loc)
            if found is None:
                continue
            ref = next((r for r in _refs(found[1]) if str(r.get("uid")) == uid), None)
            if ref is not None:
                out.append((found[0], found[1], ref))
        return out

    # ------------------------------------------------------------------------------------------ policies
    def _handle_owner(self, uid: str) -> int:
        owner = self._alive(uid)
        if owner is None:
            return sum(
                self._check_dependent(self._location(rt, dep)) for rt, dep, _ in self._live_dependents(uid)
            )
        md = owner.get("metadata") or {}
        if not md.get("deletionTimestamp"):
            return 0
        finalizers = list(md.get("finalizers") or [])
        loc = self._where[uid]
        owner_rt = self.store.type_for(loc[0], loc[1])
        assert owner_rt is not None
        actions = 0
        if _ORPHAN in finalizers:
            for rt, dep, _ in self._live_dependents(uid):
                actions += self._drop_refs(rt, dep, {uid})
            return actions + self._set_finalizers(owner_rt, owner, [f for f in finalizers if f != _ORPHAN])
        if _FOREGROUND in finalizers:
            blocking = 0
            for rt, dep, ref in self._live_dependents(uid):
                has_own = bool(self._dependents.get(str((dep.get("metadata") or {}).get("uid"))))
                actions += self._delete(rt, dep, "Foreground" if has_own else "Background")
                if ref.get("blockOwnerDeletion") and self.store.peek(*self._key_ns_name(rt, dep)) is not None:
                    blocking += 1
            if not blocking:
                actions += self._set_finalizers(owner_rt, owner, [f for f in finalizers if f != _FOREGROUND])
        return actions

    @staticmethod
    def _location(rt: ResourceType, obj: dict[str, Any]) -> Location:
        md = obj.get("metadata") or {}
        return (rt.group, rt.plural, str(md.get("namespace", "")) if rt.namespaced else "", md["name"])

    @staticmethod
    def _key_ns_name(rt: ResourceType, obj: dict[str, Any]) -> tuple[tuple[str, str], str, str]:
        md = obj.get("metadata") or {}
        return (rt.group, rt.plural), str(md.get("namespace", "")) if rt.namespaced else "", md["name"]

    def _check_dependent(self, loc: Location) -> int:
        found = self._get(loc)
        if found is None:
            return 0
        rt, obj = found
        refs = _refs(obj)
        if not refs:
            return 0
        gone = {str(r.get("uid")) for r in refs if self._alive(str(r.get("uid"))) is None}
        if not gone:
            return 0
        if len(gone) == len({str(r.get("uid")) for r in refs}):
            return self._delete(rt, obj)
        return self._drop_refs(rt, obj, gone)

    def _empty_namespace(self, ns: str) -> int:
        namespace = self.store.peek(_NAMESPACES, "", ns)
        if namespace is None or not (namespace.get("metadata") or {}).get("deletionTimestamp"):
            return 0
        actions = 0
        remaining = self.store.objects_in_namespace(ns)
        for rt, obj in remaining:
            actions += self._delete(rt, obj)
        if self.store.objects_in_namespace(ns):
            return actions  # finalizers hold something; its deletion re-marks the namespace
        if "kubernetes" in ((namespace.get("spec") or {}).get("finalizers") or []):
            actions += self._try(
                f"finalize namespace {ns}",
                self.store.update,
                "v1",
                "Namespace",
                {"metadata": {"name": ns}, "spec": {"finalizers": []}},
                subresource="finalize",
            )
        return actions
