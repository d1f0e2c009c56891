"""Predicates filter informer events before they become reconcile requests.

A predicate answers `create(obj)`, `update(old, new)` and `delete(obj)` with True (let through) or False.
They compose with `&`, `|` and `~` (or `And`, `Or`, `Not`). The usual ones:

* `GenerationChanged()` — updates only when metadata.generation moved: drops status-only writes and
  resyncs (same object twice), the main source of useless reconciles.
* `LabelChanged()`, `AnnotationChanged()` — updates only when labels / annotations differ.
* `ResourceVersionChanged()` — drops resyncs only.
* `Funcs(create=..., update=..., delete=...)` — anything else; a missing function lets events through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "And",
    "AnnotationChanged",
    "Funcs",
    "GenerationChanged",
    "LabelChanged",
    "Not",
    "Or",
    "Predicate",
    "ResourceVersionChanged",
]


def _meta(obj: Any) -> Mapping[str, Any]:
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    return meta if isinstance(meta, Mapping) else {}


class Predicate:
    """Lets every event through; subclasses override what they filter."""

    def create(self, obj: Any) -> bool:
        return True

    def update(self, old: Any, new: Any) -> bool:
        return True

    def delete(self, obj: Any) -> bool:
        return True

    def __and__(self, other: Predicate) -> Predicate:
        return And(self, other)

    def __or__(self, other: Predicate) -> Predicate:
        return Or(self, other)

    def __invert__(self) -> Predicate:
        return Not(self)


class GenerationChanged(Predicate):
    """Updates pass only when metadata.generation changed.

    An absent generation reads as 0, as controller-runtime's ``GetGeneration()`` does, so on kinds that have
    none (ConfigMaps, Pods before kube 1.33, Services, ...) every update is filtered out. A Deployment's
    generation also moves when its annotations change.
    """

    def update(self, old: Any, new: Any) -> bool:
        return _generation(old) != _generation(new)


def _generation(obj: Any) -> int:
    value = _meta(obj).get("generation")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class LabelChanged(Predicate):
    """Updates pass only when metadata.labels changed."""

    def update(self, old: Any, new: Any) -> bool:
        return (_meta(old).get("labels") or {}) != (_meta(new).get("labels") or {})


class AnnotationChanged(Predicate):
    """Updates pass only when metadata.annotations changed."""

    def update(self, old: Any, new: Any) -> bool:
        return (_meta(old).get("annotations") or {}) != (_meta(new).get("annotations") or {})


class ResourceVersionChanged(Predicate):
    """Updates pass only when metadata.resourceVersion changed (drops resyncs)."""

    def update(self, old: Any, new: Any) -> bool:
        return _meta(old).get("resourceVersion") != _meta(new).get("resourceVersion")


class Funcs(Predicate):
    """A predicate from optional functions; a missing one lets its events through."""

    def __init__(
        self,
        *,
        create: Callable[[Any], bool] | None = None,
        update: Callable[[Any, Any], bool] | None = None,
        delete: Callable[[Any], bool] | None = None,
    ) -> None:
        self._create, self._update, self._delete = create, update, delete

    def create(self, obj: Any) -> bool:
        return self._create(obj) if self._create else True

    def update(self, old: Any, new: Any) -> bool:
        return self._update(old, new) if self._update else True

    def delete(self, obj: Any) -> bool:
        return self._delete(obj) if self._delete else True


class And(Predicate):
    """Passes when every predicate passes."""

    def __init__(self, *predicates: Predicate) -> None:
        self.predicates = predicates

    def create(self, obj: Any) -> bool:
        return all(p.create(obj) for p in self.predicates)

    def update(self, old: Any, new: Any) -> bool:
        return all(p.update(old, new) for p in self.predicates)

    def delete(self, obj: Any) -> bool:
        return all(p.delete(obj) for p in self.predicates)


class Or(Predicate):
    """Passes when any predicate passes."""

    def __init__(self, *predicates: Predicate) -> None:
        self.predicates = predicates

    def create(self, obj: Any) -> bool:
        return any(p.create(obj) for p in self.predicates)

    def update(self, old: Any, new: Any) -> bool:
        return any(p.update(old, new) for p in self.predicates)

    def delete(self, obj: Any) -> bool:
        return any(p.delete(obj) for p in self.predicates)


class Not(Predicate):
    """Passes when the predicate does not."""

    def __init__(self, predicate: Predicate) -> None:
        self.predicate = predicate

    def create(self, obj: Any) -> bool:
        return not self.predicate.create(obj)

    def update(self, old: Any, new: Any) -> bool:
        return not self.predicate.update(old, new)

    def delete(self, obj: Any) -> bool:
        return not self.predicate.delete(obj)
