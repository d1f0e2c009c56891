"""Per-kind write behaviour of the store, as kube-apiserver's registry strategies: one object per resource.

The store's core (:mod:`kaito.sim.server.store`) knows revisions, preconditions, the merge of a write into the
stored object, no-op detection, watch fan-out and persistence; everything a kind does differently is asked of
its :class:`Strategy`, looked up by storage key (group, plural) in a :class:`StrategyRegistry`:

- :meth:`Strategy.prepare_for_create` / :meth:`Strategy.prepare_for_update` — kube's PrepareForCreate and
  PrepareForUpdate: reset what a client may not set (status of kinds with a status subresource), allocate
  (Service cluster IPs), keep what an update may not change;
- :meth:`Strategy.prepare_for_write` — the defaulting applied on every write;
- :meth:`Strategy.validate` — the kind's field errors (generic finalizer rules stay in the core);
- :meth:`Strategy.derive` — what the server computes once the object is valid (a CRD's status);
- :meth:`Strategy.generation_changes` — whether a write moves ``metadata.generation``;
- :meth:`Strategy.update_subresource` — the ``status`` subresource (and a Namespace's ``finalize``);
  :meth:`Strategy.scale_paths` — where the ``scale`` subresource reads and writes replicas;
- deletion: :meth:`Strategy.check_delete`, :meth:`Strategy.deletion_grace`, :attr:`Strategy.two_phase_delete`,
  :meth:`Strategy.mark_deleting`, :meth:`Strategy.held`, :attr:`Strategy.delete_returns_object`;
- :meth:`Strategy.committed` / :meth:`Strategy.loaded` — after a commit and for each object loaded at
  start-up (a CRD serves its kinds), through the narrow :class:`StrategyContext`.

The per-kind strategies are in :mod:`kaito.sim.server.strategies`. Strategies hold no objects; a strategy may
keep an allocator (the Service cluster-IP range), so each store gets its own registry.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from kaito.sim.server.errors import FieldError, MethodNotAllowed, NotFound
from kaito.sim.server.objects import clone
from kaito.sim.server.resources import ResourceRegistry, ResourceType
from kaito.sim.server.scale import ScalePaths

__all__ = ["StorageKey", "Strategy", "StrategyContext", "StrategyRegistry"]

StorageKey = tuple[str, str]  # (group, plural)


class StrategyContext(Protocol):
    """What a strategy may ask of the store after a commit or a load."""

    @property
    def registry(self) -> ResourceRegistry: ...

    def drop_kind(self, group: str, plural: str) -> None:
        """Delete every stored object of (group, plural), each with a DELETED event."""
        ...


class Strategy:
    """The generic behaviour, which a kind's strategy overrides where the kind differs."""

    #: a PUT of a missing object creates it (kube's AllowCreateOnUpdate)
    create_on_update: bool = False
    #: a DELETE answers with the object rather than a Success Status (kube's ReturnDeletedObject)
    delete_returns_object: bool = False
    #: a DELETE always marks the object (deletionTimestamp) and a controller removes it later
    two_phase_delete: bool = False
    #: a status write may share with the stored object every part but metadata and status, because
    #: nothing on the write path changes those parts in place (see :meth:`update_subresource`)
    status_write_shares_rest: bool = False

    def prepare_for_create(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        """Reset status for kinds whose status is a subresource."""
        if rt.has_status:
            obj.pop("status", None)

    def prepare_for_update(self, rt: ResourceType, new: dict[str, Any], old: dict[str, Any]) -> None:
        """A write of the main resource keeps the stored status of kinds with a status subresource."""
        if rt.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)

    def prepare_for_write(self, rt: ResourceType, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Defaulting applied on every update, patch and status write (create's is in prepare_for_create)."""
        return None

    def validate(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        """The kind's field errors for ``obj`` as it would be stored (``old``: the stored one, on update)."""
        return []

    def derive(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, now: str) -> None:
        """Fields the server computes from a valid object, in place."""
        return None

    def generation_changes(self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> bool:
        """Anything but metadata (and status, when it is a subresource) changed."""
        ignored = (
            ("metadata", "status", "apiVersion", "kind")
            if rt.has_status
            else ("metadata", "apiVersion", "kind")
        )
        return _without(new, ignored) != _without(old, ignored)

    def update_subresource(
        self, rt: ResourceType, old: dict[str, Any], body: dict[str, Any], subresource: str
    ) -> dict[str, Any]:
        """What a write of ``body`` to ``subresource`` makes of ``old`` (``status``, for kinds with one)."""
        if subresource != "status":
            raise MethodNotAllowed(
                f"the server does not allow this method on the requested resource ({subresource})"
            )
        if not rt.has_status:
            raise NotFound(
                f"the server could not find the requested resource ({rt.qualified_resource}/status)"
            )
        if self.status_write_shares_rest:
            # nothing but status and metadata's own keys (resourceVersion, generation, a new managedFields
            # list) change, and nothing writes the rest in place: share it
            new = {k: dict(v) if k == "metadata" else v for k, v in old.items()}
        else:
            new = clone(old)  # admission may prune and default in place; the stored object must not change
        if "status" in body:
            new["status"] = body["status"]
        else:
            new.pop("status", None)
        if "managedFields" in body.get("metadata", {}):
            new["metadata"]["managedFields"] = body["metadata"]["managedFields"]
        return new

    def scale_paths(self, rt: ResourceType) -> ScalePaths:
        """Where the ``scale`` subresource finds replicas: the CRD's paths, else the workloads' own."""
        return ScalePaths.from_crd(rt.scale) if rt.scale else ScalePaths()

    def check_delete(self, rt: ResourceType, name: str) -> None:
        """Refuse (raise) a delete the kind never allows."""
        return None

    def deletion_grace(self, rt: ResourceType, obj: dict[str, Any], requested: int | None) -> int:
        """Seconds from a delete to deletionTimestamp; 0 for kinds without a grace period."""
        return 0

    def mark_deleting(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        """Changes beside deletionTimestamp when a delete marks the object."""
        return None

    def held(self, obj: dict[str, Any]) -> bool:
        """Whether an object being deleted stays stored (its finalizers are not all gone)."""
        return bool((obj.get("metadata") or {}).get("finalizers"))

    def committed(self, context: StrategyContext, obj: dict[str, Any], *, deleted: bool) -> None:
        """After ``obj`` was committed (or deleted)."""
        return None

    def loaded(self, context: StrategyContext, obj: dict[str, Any]) -> None:
        """For each object of the kind loaded at start-up, before any write."""
        return None


class StrategyRegistry:
    """The strategy of each storage key, with fallbacks for built-in and custom kinds without their own.

    Invariant: :meth:`for_type` always answers; a key registered twice keeps the later strategy.
    """

    def __init__(
        self,
        strategies: Mapping[StorageKey, Strategy] | None = None,
        *,
        builtin: Strategy | None = None,
        custom: Strategy | None = None,
    ) -> None:
        self._by_key: dict[StorageKey, Strategy] = dict(strategies or {})
        self.builtin = builtin if builtin is not None else Strategy()
        self.custom = custom if custom is not None else Strategy()

    def register(self, key: StorageKey, strategy: Strategy) -> None:
        """Use ``strategy`` for objects stored under ``key`` = (group, plural)."""
        self._by_key[key] = strategy

    def for_key(self, key: StorageKey) -> Strategy | None:
        """The strategy registered for ``key`` = (group, plural), or None."""
        return self._by_key.get(key)

    def for_type(self, rt: ResourceType) -> Strategy:
        """The strategy for objects of ``rt``: its own, else the custom or the built-in fallback."""
        own = self._by_key.get(rt.storage_key)
        if own is not None:
            return own
        return self.custom if rt.custom else self.builtin

    def __iter__(self) -> Iterator[tuple[StorageKey, Strategy]]:
        return iter(sorted(self._by_key.items(), key=lambda item: item[0]))

    def __contains__(self, key: object) -> bool:
        return key in self._by_key


def _without(obj: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}
