"""The informer's cache: objects by key ("namespace/name" or "name") plus secondary indexes.

Invariants:
* `_items[key]` is a frozen object (see `kaito.ctrl.frozen`); callers get it without copying and cannot
  mutate it.
* For every indexer `n`, `_indices[n][v]` is exactly the keys whose object `fn(obj)` lists `v`: the key
  itself (a str) when there is one, a set of two or more otherwise (most values, an owner uid or a name
  label, belong to one object, and an empty set costs 200 bytes); a value with no key has no entry
  for `fn = _indexers[n]`; `_index_values[n][key]` remembers those values so a replace or delete removes
  the key from the right buckets without calling `fn` on the old object again.

The store is "thread-safe for asyncio" by construction: every method is synchronous, so no other task can
observe a half-applied change. Built-in indexers: by namespace, by owner uid, by label ("key=value").

The label index covers only the label keys somebody asked for: the first `by_index(BY_LABEL, "k=v")` (or
`count_in_index`) for a key `k` indexes every cached object's `k` once, and later upserts keep it. Objects
carry many labels nobody selects on (a Node has two dozen); indexing all of them cost a string and a set per
label value, for every cached object, and a rebuild of those strings on every update.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kaito.ctrl.client import object_key
from kaito.ctrl.frozen import freeze

__all__ = ["BY_LABEL", "BY_NAMESPACE", "BY_OWNER_UID", "Store"]

Obj = Mapping[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]

BY_NAMESPACE = "namespace"
BY_OWNER_UID = "owner-uid"
BY_LABEL = "label"


def index_by_namespace(obj: Obj) -> list[str]:
    namespace = (obj.get("metadata") or {}).get("namespace")
    return [namespace] if namespace else []


def index_by_owner_uid(obj: Obj) -> list[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [ref["uid"] for ref in refs if ref.get("uid")]


class Store:
    """A keyed, indexed cache of frozen objects."""

    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, Any] = {}
        self._label_keys: set[str] = set()  # the label keys the BY_LABEL index covers (see the module)
        self._indexers: dict[str, IndexFunc] = {
            BY_NAMESPACE: index_by_namespace,
            BY_OWNER_UID: index_by_owner_uid,
            BY_LABEL: self._index_asked_labels,
        }
        self._indices: dict[str, dict[str, str | set[str]]] = {}
        self._index_values: dict[str, dict[str, tuple[str, ...]]] = {}
        for name, fn in (indexers or {}).items():
            self.add_indexer(name, fn)
        for name in self._indexers:
            self._indices.setdefault(name, {})
            self._index_values.setdefault(name, {})

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        """Add an index; existing objects are indexed immediately."""
        if name in self._indexers and self._indexers[name] is not fn:
            raise ValueError(f"an indexer named {name!r} already exists; pick another name")
        self._indexers[name] = fn
        self._indices[name] = {}
        self._index_values[name] = {}
        for key, obj in self._items.items():
            self._index(name, key, obj)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: str) -> Any | None:
        """The frozen object under `key`, or None."""
        return self._items.get(key)

    def get_object(self, name: str, namespace: str | None = None) -> Any | None:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def list_keys(self) -> builtins.list[str]:
        return list(self._items)

    def list(self, namespace: str | None = None) -> list[Any]:
        """All objects, or those of one namespace."""
        if namespace is None:
            return list(self._items.values())
        return self.by_index(BY_NAMESPACE, namespace)

    def by_index(self, index: str, value: str) -> builtins.list[Any]:
        """Objects whose indexer `index` lists `value`."""
        return [self._items[key] for key in sorted(self._bucket(index, value))]

    def count_in_index(self, index: str, value: str) -> int:
        """How many objects `by_index(index, value)` would return, without building the list."""
        return len(self._bucket(index, value))

    def _bucket(self, index: str, value: str) -> set[str] | tuple[str] | tuple[()]:
        if index not in self._indexers:
            raise KeyError(f"no indexer named {index!r}; known: {', '.join(sorted(self._indexers))}")
        if index == BY_LABEL:
            label_key = value.partition("=")[0]
            if label_key not in self._label_keys:  # first time this key is asked for: index it now
                self._label_keys.add(label_key)
                for key in list(self._index_values[BY_LABEL]):
                    self._unindex_one(BY_LABEL, key)
                for key, obj in self._items.items():
                    self._index(BY_LABEL, key, obj)
        keys = self._indices[index].get(value, ())
        return (keys,) if isinstance(keys, str) else keys

    def _index_asked_labels(self, obj: Obj) -> builtins.list[str]:
        if not self._label_keys:
            return []
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return [f"{key}={labels[key]}" for key in self._label_keys if key in labels]

    def upsert(self, obj: Obj) -> tuple[Any | None, Any]:
        """Store `obj` (frozen); returns (old, new)."""
        key = object_key(obj)
        new = freeze(obj)
        old = self._items.get(key)
        self._items[key] = new
        for name, fn in self._indexers.items():
            values = tuple(dict.fromkeys(fn(new)))
            if old is not None:
                if self._index_values[name].get(key, ()) == values:
                    continue  # most updates change no label, namespace or owner: the buckets stay right
                self._unindex_one(name, key)
            self._add_to_index(name, key, values)
        return old, new

    def delete(self, key: str) -> Any | None:
        """Remove and return the object under `key` (None if absent)."""
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key)
        return old

    def _index(self, name: str, key: str, obj: Obj) -> None:
        self._add_to_index(name, key, tuple(dict.fromkeys(self._indexers[name](obj))))

    def _add_to_index(self, name: str, key: str, values: tuple[str, ...]) -> None:
        if values:
            self._index_values[name][key] = values
            bucket = self._indices[name]
            for value in values:
                keys = bucket.get(value)
                if keys is None:
                    bucket[value] = key
                elif isinstance(keys, str):
                    if keys != key:
                        bucket[value] = {keys, key}
                else:
                    keys.add(key)

    def _unindex(self, key: str) -> None:
        for name in self._index_values:
            self._unindex_one(name, key)

    def _unindex_one(self, name: str, key: str) -> None:
        bucket = self._indices[name]
        for value in self._index_values[name].pop(key, ()):
            keys = bucket.get(value)
            if keys is None:
                continue
            if isinstance(keys, str):
                if keys == key:
                    del bucket[value]
                continue
            keys.discard(key)
            if len(keys) == 1:
                bucket[value] = next(iter(keys))
            elif not keys:
                del bucket[value]
