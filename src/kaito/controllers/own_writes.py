"""Read your own writes: what a reconciler last wrote, for the moments its cache has not caught up yet.

A reconciler reads from the informer's cache and writes to the API server; the cache sees each write one
watch event later. A reconcile that runs in between (another event woke it) would decide from the copy our
write replaced: it would write the same status again, or send a resourceVersion-guarded patch bound to fail.
`OwnWrites` keeps, per object, what the last write returned and the resourceVersions that write (and the
writes it followed in a chain) replaced:

    view(key, cached, version)   the written copy while the cached one is still at a version a write of
                                 ours replaced; otherwise `cached`, and the memory is dropped (the cache
                                 caught up, or someone else wrote since: their copy is the truth).
    remember(key, before, written, version)   after a write: `before` is the version it replaced.
    seen(key, version)           the cache now holds `version`: drop the memory unless `version` is one our
                                 write replaced (for objects whose own updates wake no reconcile, such as
                                 a Workspace's status, so the last write is not kept for the process's life).

Invariant: an entry is returned only for a cached copy older than our write, and a chain of writes in one
reconcile (finalizer, then status) is one entry whose `replaced` holds every version along the chain.
Nothing here sleeps or guesses: a copy the cache has not seen yet is recognised by its version only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["OwnWrites"]

T = TypeVar("T")


@dataclass(frozen=True)
class _Written(Generic[T]):
    replaced: frozenset[str]
    value: T
    version: str | None


class OwnWrites(Generic[T]):
    """The last copy each of our writes returned, keyed by object (see the module docstring)."""

    def __init__(self) -> None:
        self._entries: dict[str, _Written[T]] = {}

    def view(self, key: str, cached: T, version: str | None) -> T:
        """`cached`, or what we wrote if `version` (the cached copy's) is one our writes replaced."""
        entry = self._entries.get(key)
        if entry is not None and version is not None and version in entry.replaced:
            return entry.value
        self._entries.pop(key, None)
        return cached

    def remember(self, key: str, before: str | None, written: T, version: str | None) -> None:
        """Record a write that replaced version `before` and returned `written` at `version`."""
        replaced = {before} if before else set()
        earlier = self._entries.get(key)
        if earlier is not None and before is not None and earlier.version == before:
            replaced |= earlier.replaced  # a chain of our own writes: any link may still be cached
        self._entries[key] = _Written(frozenset(replaced), written, version)

    def seen(self, key: str, version: str | None) -> None:
        """The cache holds `key` at `version`: forget our copy unless the cache is still behind it."""
        entry = self._entries.get(key)
        if entry is not None and (version is None or version not in entry.replaced):
            del self._entries[key]

    def forget(self, key: str) -> None:
        """Drop what we remember of `key` (the object is gone)."""
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
