"""An EventRecorder that writes core/v1 Events and aggregates repeats like client-go.

The first occurrence of (involved object, type, reason, message, source) creates an Event named
"<object name>.<hex nanoseconds>" with count 1; each repeat PATCHes that Event with count+1 and a new
lastTimestamp instead of creating another one (client-go's EventCorrelator). If the aggregated Event was
deleted meanwhile (Events expire), a fresh one is created. The cache of recent events is bounded (LRU).

Recording is best-effort: a failure to write an Event is logged and never raised into a reconcile.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from kaito.ctrl.client import GVK, Client, PatchType, to_dict
from kaito.ctrl.clock import Clock, SystemClock
from kaito.ctrl.errors import CtrlError, NotFound

__all__ = ["EventRecorder"]

log = logging.getLogger("kaito.ctrl.events")

EVENT = GVK("v1", "Event")


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int


class EventRecorder:
    """Writes Events about objects on behalf of `component`."""

    def __init__(
        self,
        client: Client,
        component: str,
        *,
        host: str = "",
        clock: Clock | None = None,
        cache_size: int = 4096,
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.clock: Clock = clock or SystemClock()
        self.cache_size = cache_size
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()
        self._sequence = 0

    async def event(self, obj: BaseModel | Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """Record that `reason: message` happened to `obj` (type_ "Normal" or "Warning")."""
        if type_ not in ("Normal", "Warning"):
            raise ValueError(f"event type must be 'Normal' or 'Warning', got {type_!r}")
        try:
            await self._record(to_dict(obj), type_, reason, message)
        except CtrlError as exc:
            log.warning("could not record event %s on %s: %s", reason, _describe(obj), exc)

    async def normal(self, obj: BaseModel | Mapping[str, Any], reason: str, message: str) -> None:
        await self.event(obj, "Normal", reason, message)

    async def warning(self, obj: BaseModel | Mapping[str, Any], reason: str, message: str) -> None:
        await self.event(obj, "Warning", reason, message)

    async def _record(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        involved = {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        }
        involved = {k: v for k, v in involved.items() if v}
        key = tuple(
            str(x)
            for x in (
                involved.get("kind"),
                involved.get("namespace"),
                involved.get("name"),
                involved.get("uid"),
                type_,
                reason,
                message,
                self.component,
                self.host,
            )
        )
        now = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        seen = self._seen.get(key)
        if seen is not None:
            self._seen.move_to_end(key)
            try:
                await self.client.patch(
                    EVENT,
                    seen.name,
                    {"count": seen.count + 1, "lastTimestamp": now},
                    namespace=seen.namespace,
                    patch_type=PatchType.MERGE,
                )
                seen.count += 1
                return
            except NotFound:
                del self._seen[key]
        namespace = meta.get("namespace") or "default"
        self._sequence += 1  # nanoseconds alone collide under a coarse (or fake) clock
        name = f"{meta.get('name', 'unknown')}.{int(self.clock.now().timestamp() * 1e9) + self._sequence:x}"
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": type_,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "reportingComponent": self.component,
            "reportingInstance": self.host or self.component,
        }
        await self.client.create(event)
        self._seen[key] = _Seen(name, namespace, 1)
        while len(self._seen) > self.cache_size:
            self._seen.popitem(last=False)


def _describe(obj: BaseModel | Mapping[str, Any]) -> str:
    data = to_dict(obj) if isinstance(obj, BaseModel) else obj
    meta = data.get("metadata") or {}
    return f"{data.get('kind')} {meta.get('namespace', '')}/{meta.get('name', '')}"
