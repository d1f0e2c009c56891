"""Event handlers decide WHICH requests an informer event enqueues (predicates decide WHETHER).

* `EnqueueRequestForObject()` — the object itself (the primary kind of a controller).
* `EnqueueRequestForOwner(owner_kind, only_controller=True)` — the owner named in the object's
  ownerReferences whose apiVersion *group* and kind match (the version is ignored, like controller-runtime);
  with `only_controller` only the reference marked `controller: true`. Owners live in the object's
  namespace (or are cluster-scoped when the object is). An update enqueues the owners of old and new.
* `EnqueueRequestsFromMapFunc(fn)` — whatever `fn(obj)` returns; run on both old and new for updates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from kaito.ctrl.client import KindRef, gvk_of
from kaito.ctrl.reconcile import Request

__all__ = [
    "EnqueueRequestForObject",
    "EnqueueRequestForOwner",
    "EnqueueRequestsFromMapFunc",
    "MapFunc",
    "RequestHandler",
    "request_for",
]

MapFunc = Callable[[Any], Iterable[Request]]


def request_for(obj: Mapping[str, Any]) -> Request:
    """The Request naming `obj`."""
    meta = obj.get("metadata") or {}
    return Request(meta.get("namespace") or "", meta.get("name", ""))


class RequestHandler(Protocol):
    """Maps an informer event to the requests it should enqueue."""

    def create(self, obj: Any) -> Iterable[Request]: ...

    def update(self, old: Any, new: Any) -> Iterable[Request]: ...

    def delete(self, obj: Any) -> Iterable[Request]: ...


class EnqueueRequestForObject:
    """Enqueue the object that changed."""

    def create(self, obj: Any) -> Iterable[Request]:
        return [request_for(obj)]

    def update(self, old: Any, new: Any) -> Iterable[Request]:
        return [request_for(new)]

    def delete(self, obj: Any) -> Iterable[Request]:
        return [request_for(obj)]


class EnqueueRequestForOwner:
    """Enqueue the owner (by group+kind in ownerReferences) of the object that changed."""

    def __init__(self, owner_kind: KindRef, *, only_controller: bool = True) -> None:
        gvk = gvk_of(owner_kind)
        self.group, self.kind = gvk.group, gvk.kind
        self.only_controller = only_controller

    def _owners(self, obj: Any) -> list[Request]:
        meta = obj.get("metadata") or {}
        found = []
        for ref in meta.get("ownerReferences") or []:
            if self.only_controller and not ref.get("controller"):
                continue
            if (
                ref.get("kind") != self.kind
                or str(ref.get("apiVersion", "")).rpartition("/")[0] != self.group
            ):
                continue
            found.append(Request(meta.get("namespace") or "", ref.get("name", "")))
        return found

    def create(self, obj: Any) -> Iterable[Request]:
        return self._owners(obj)

    def update(self, old: Any, new: Any) -> Iterable[Request]:
        return dict.fromkeys([*self._owners(old), *self._owners(new)])

    def delete(self, obj: Any) -> Iterable[Request]:
        return self._owners(obj)


class EnqueueRequestsFromMapFunc:
    """Enqueue whatever a map function returns for the object (old and new on updates)."""

    def __init__(self, fn: MapFunc) -> None:
        self.fn = fn

    def create(self, obj: Any) -> Iterable[Request]:
        return list(self.fn(obj))

    def update(self, old: Any, new: Any) -> Iterable[Request]:
        return dict.fromkeys([*self.fn(old), *self.fn(new)])

    def delete(self, obj: Any) -> Iterable[Request]:
        return list(self.fn(obj))
