"""Watches on the store: an async iterator of :class:`WatchEvent` fed synchronously by the store.

The store calls :meth:`Watch.offer` for every change while it still holds the write (one event loop, no
awaits), and the watch puts what passes its filters on an ``asyncio.Queue`` with ``put_nowait``. Invariants:

- Events arrive in resourceVersion order, none skipped: a watch is registered with the store in the same
  synchronous call that replays history into it, so nothing can happen in between.
- When the queue is empty, the watcher has seen every matching change up to the store's current
  resourceVersion; that is what makes a BOOKMARK carrying ``store.resource_version`` truthful.
- Filtering follows kube's watch cache: a change that makes an object start matching the selectors is sent as
  ADDED, one that makes it stop matching as DELETED (the old state, stamped with the new resourceVersion).
- Objects in the queue are the store's shared, never-mutated dicts; each delivered event carries a private
  copy (unless the watch was made with ``copy_objects=False`` by an in-process reader that promises not to
  mutate).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kaito.sim.server.objects import clone
from kaito.sim.server.selectors import FieldSelector, LabelSelector

__all__ = ["Change", "Watch", "WatchEvent"]


@dataclass(frozen=True)
class WatchEvent:
    """One event: type is ADDED, MODIFIED, DELETED or BOOKMARK; object is the wire form."""

    type: str
    object: dict[str, Any]
    api_version: str
    kind: str


@dataclass(frozen=True)
class Change:
    """A committed change as the store records it in its history (objects shared, never mutated)."""

    rv: int
    type: str
    key: tuple[str, str]  # (group, plural)
    kind: str
    object: dict[str, Any]
    prev: dict[str, Any] | None
    namespace: str


_CLOSED = object()


class Watch:
    """An open watch; iterate with ``async for``; :meth:`close` (or the store dropping it) ends it."""

    def __init__(
        self,
        *,
        current_rv: Callable[[], int],
        key: tuple[str, str] | None,
        api_version: str | None,
        kind: str | None,
        namespace: str | None = None,
        label_selector: LabelSelector | None = None,
        field_selector: FieldSelector | None = None,
        allow_bookmarks: bool = False,
        bookmark_interval: float = 1.0,
        copy_objects: bool = True,
        on_close: Callable[[Watch], None] | None = None,
    ) -> None:
        self._current_rv = current_rv
        self.key = key
        self.api_version = api_version
        self.kind = kind
        self.namespace = namespace
        self._labels = label_selector if label_selector is not None and not label_selector.empty else None
        self._fields = field_selector if field_selector is not None and not field_selector.empty else None
        self.allow_bookmarks = allow_bookmarks
        self.bookmark_interval = bookmark_interval
        self._copy = copy_objects
        self._on_close = on_close
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = False

    # --- store side -------------------------------------------------------------------------------------
    def _matches(self, obj: dict[str, Any]) -> bool:
        if self._labels is not None and not self._labels.matches((obj.get("metadata") or {}).get("labels")):
            return False
        return self._fields is None or self._fields.matches(obj)

    def offer(self, change: Change) -> None:
        """Queue ``change`` if it concerns this watch (called by the store for every commit)."""
        if self.closed or (self.key is not None and change.key != self.key):
            return
        if self.namespace is not None and change.namespace != self.namespace:
            return
        if self._labels is None and self._fields is None:
            self._queue.put_nowait((change.type, change.object, change.kind))
            return
        now = self._matches(change.object)
        before = change.prev is not None and self._matches(change.prev)
        if change.type == "MODIFIED":
            if now and not before:
                self._queue.put_nowait(("ADDED", change.object, change.kind))
            elif before and not now:
                assert change.prev is not None
                gone = dict(change.prev)
                gone["metadata"] = dict(gone.get("metadata") or {}, resourceVersion=str(change.rv))
                self._queue.put_nowait(("DELETED", gone, change.kind))
            elif now:
                self._queue.put_nowait((change.type, change.object, change.kind))
        elif now:
            self._queue.put_nowait((change.type, change.object, change.kind))

    def put_initial(self, obj: dict[str, Any], kind: str) -> None:
        """Queue a synthetic ADDED for an object that existed when the watch started (already filtered)."""
        self._queue.put_nowait(("ADDED", obj, kind))

    # --- consumer side ----------------------------------------------------------------------------------
    def _event(self, item: Any) -> WatchEvent:
        type_, obj, kind = item
        api_version = self.api_version or obj.get("apiVersion", "")
        if self._copy:
            obj = clone(obj)
            obj["apiVersion"] = api_version
        elif obj.get("apiVersion") != api_version:
            obj = dict(obj, apiVersion=api_version)
        return WatchEvent(type_, obj, api_version, self.kind or kind)

    def _bookmark(self) -> WatchEvent:
        api_version = self.api_version or "v1"
        kind = self.kind or ""
        obj = {
            "kind": kind,
            "apiVersion": api_version,
            "metadata": {"resourceVersion": str(self._current_rv())},
        }
        return WatchEvent("BOOKMARK", obj, api_version, kind)

    def closing_bookmark(self) -> WatchEvent | None:
        """The BOOKMARK kube sends as a watch with ``timeoutSeconds`` ends, so the client resumes from the
        newest version: only if bookmarks were asked and nothing is still queued (only then is the store's
        current resourceVersion truthful for this watcher)."""
        if not self.allow_bookmarks or self.closed or not self._queue.empty():
            return None
        return self._bookmark()

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> WatchEvent:
        if self.closed and self._queue.empty():
            raise StopAsyncIteration
        if self.allow_bookmarks:
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout=self.bookmark_interval)
            except TimeoutError:
                if self.closed:
                    raise StopAsyncIteration from None
                return self._bookmark()
        else:
            item = await self._queue.get()
        if item is _CLOSED:
            self.closed = True
            raise StopAsyncIteration
        return self._event(item)

    def drain(self) -> list[WatchEvent]:
        """Every event queued right now, without waiting (for synchronous readers and tests)."""
        events: list[WatchEvent] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is _CLOSED:
                break
            events.append(self._event(item))
        return events

    def pending(self) -> int:
        """How many events are queued and not yet read."""
        return self._queue.qsize()

    def close(self) -> None:
        """End the watch: the iteration stops once queued events are read (they are discarded)."""
        if self.closed:
            return
        self.closed = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_CLOSED)
        if self._on_close is not None:
            self._on_close(self)
