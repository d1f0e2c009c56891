"""core/v1 Events written into the store the way client-go's legacy ``EventRecorder`` writes them.

An Event is named ``<involved object name>.<creation time in hex nanoseconds>`` and lives in the involved
object's namespace (``default`` for cluster-scoped objects such as Nodes). Its ``source`` and
``reportingController``/``reportingInstance`` name the component (``kubelet``, ``default-scheduler``,
``deployment-controller``...) and, for the kubelet, the node.

Deduplication follows client-go's ``EventCorrelator`` logger: an event with the same source, involved object,
type, reason and message as one recorded less than :attr:`EventRecorder.window` ago bumps that Event's
``count`` and ``lastTimestamp`` instead of creating a new one. Invariant: ``_seen`` maps such a key to the
name, namespace and last time of the Event that absorbs repeats; entries older than the window are ignored and
the map is capped (least recently used dropped first) like client-go's LRU.

Recording never raises: as in client-go, an Event that cannot be written (namespace terminating, object gone)
is dropped and logged, because losing an Event must never fail the controller that emitted it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from kaito.sim.server.errors import ApiError, NotFound
from kaito.sim.server.objects import format_time, utcnow

__all__ = ["EventRecorder", "EventStore", "involved_object"]

_log = logging.getLogger(__name__)

_CACHE_SIZE = 4096  # client-go's maxLruCacheEntries


class EventStore(Protocol):
    """The part of :class:`kaito.sim.server.store.Store` the recorder needs."""

    def create(
        self, api_version: str, kind: str, obj: dict[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]: ...

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]: ...

    def update(self, api_version: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]: ...


def involved_object(obj: Mapping[str, Any], field_path: str = "") -> dict[str, Any]:
    """An ``ObjectReference`` to ``obj`` as client-go's ``reference.GetReference`` builds it."""
    metadata = obj.get("metadata") or {}
    ref: dict[str, Any] = {
        "kind": obj.get("kind", ""),
        "apiVersion": obj.get("apiVersion", ""),
        "name": metadata.get("name", ""),
        "uid": metadata.get("uid", ""),
        "resourceVersion": metadata.get("resourceVersion", ""),
    }
    if metadata.get("namespace"):
        ref["namespace"] = metadata["namespace"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


@dataclass
class _Seen:
    name: str
    namespace: str
    last: datetime


class EventRecorder:
    """Records Events for any component; one instance is shared by the whole simulator."""

    def __init__(
        self,
        store: EventStore,
        *,
        clock: Callable[[], datetime] = utcnow,
        window: timedelta = timedelta(minutes=10),
    ) -> None:
        self._store = store
        self._clock = clock
        self.window = window
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()
        self._serial = 0  # keeps names unique when the clock does not move (fake clocks, same nanosecond)

    def event(
        self,
        obj: Mapping[str, Any],
        type_: str,
        reason: str,
        message: str,
        *,
        component: str,
        host: str = "",
        field_path: str = "",
    ) -> dict[str, Any] | None:
        """Record a ``Normal`` or ``Warning`` Event about ``obj``; the Event written, or None when dropped."""
        ref = involved_object(obj, field_path)
        namespace = ref.get("namespace") or "default"
        key = (
            component,
            host,
            ref["kind"],
            ref.get("namespace", ""),
            ref["name"],
            ref["uid"],
            ref["apiVersion"],
            field_path,
            type_,
            reason,
            message,
        )
        now = self._clock()
        try:
            seen = self._seen.get(key)
            if seen is not None and now - seen.last < self.window:
                bumped = self._bump(seen, now)
                if bumped is not None:
                    return bumped
            written = self._create(ref, namespace, type_, reason, message, component, host, now)
        except ApiError as exc:
            _log.debug("dropped event %s %s on %s/%s: %s", type_, reason, namespace, ref["name"], exc)
            return None
        self._remember(key, _Seen(written["metadata"]["name"], namespace, now))
        return written

    def _bump(self, seen: _Seen, now: datetime) -> dict[str, Any] | None:
        try:
            existing = self._store.get("v1", "Event", seen.name, seen.namespace)
        except NotFound:
            return None  # deleted meanwhile (e.g. by TTL or a user): start a new Event
        existing["count"] = int(existing.get("count") or 1) + 1
        existing["lastTimestamp"] = format_time(now)
        seen.last = now
        return self._store.update("v1", "Event", existing)

    def _create(
        self,
        ref: dict[str, Any],
        namespace: str,
        type_: str,
        reason: str,
        message: str,
        component: str,
        host: str,
        now: datetime,
    ) -> dict[str, Any]:
        stamp = format_time(now)
        self._serial += 1
        nanos = int(now.timestamp() * 1_000_000) * 1000 + self._serial % 1000
        source = {"component": component, **({"host": host} if host else {})}
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{ref['name']}.{nanos:x}", "namespace": namespace},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "type": type_,
            "source": source,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "reportingComponent": component,
            "reportingInstance": host,
        }
        return self._store.create("v1", "Event", event, namespace=namespace)

    def _remember(self, key: tuple[str, ...], seen: _Seen) -> None:
        self._seen[key] = seen
        self._seen.move_to_end(key)
        while len(self._seen) > _CACHE_SIZE:
            self._seen.popitem(last=False)
