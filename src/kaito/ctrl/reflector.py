"""The reflector: keep a sink in step with the API server by list-then-watch, forever.

Loop (client-go's ListAndWatch, reduced to what matters):

1. List, paginated (`limit`/`continue`), with resourceVersion "0" the first time, the last synced version on
   a relist, and "" after a 410 (the version is gone: read the latest). The sink gets `replace(items, rv)`.
2. Watch from the last version with `allowWatchBookmarks=true` and a random `timeoutSeconds` in [300, 600).
   Every event, bookmarks included, advances the last version. (Kube sends a BOOKMARK about once a minute
   and one as a watch with timeoutSeconds ends, so a quiet watch still resumes from a recent version and
   does not fall out of the server's history into a 410 and a relist.)
3. When the watch ends — server timeout, closed connection, dropped stream, our inactivity watchdog — watch
   again from the last version WITHOUT relisting. Only a 410 Gone (as an HTTP answer or an ERROR event)
   triggers a relist. Other failures (429, 5xx, no connection) back off: 0.8 s doubling with jitter, cap
   30 s, reset after 2 minutes without failures. A watch that closes within a second having delivered
   nothing also backs off, so a server that keeps hanging up is not hammered.

The inactivity watchdog closes a watch that has delivered nothing (not even a bookmark) for longer than the
server promised to keep it open — the classic failure of Python operators is a watch that silently dies.
No client-side limit is shorter than the server's: by default the watchdog waits the watch's own
`timeoutSeconds` plus `kaito.ctrl.client.WATCH_GRACE_S`, the same deadline the client gives the HTTP
request; a quiet resource on a busy server must not have its watch cut (and re-opened, perhaps from a
version the server has already compacted) while the server still means to keep it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from typing import Any, Protocol

from kaito.ctrl.backoff import Backoff
from kaito.ctrl.client import WATCH_GRACE_S, Client, KindRef, gvk_of
from kaito.ctrl.clock import Clock, SystemClock, Timer
from kaito.ctrl.errors import CtrlError, Gone, TransportError

__all__ = ["Reflector", "ReflectorSink"]

log = logging.getLogger("kaito.ctrl.reflector")


class ReflectorSink(Protocol):
    """Where a reflector delivers what it learns (the shared informer)."""

    def replace(self, items: list[Mapping[str, Any]], resource_version: str) -> None: ...

    def apply(self, event_type: str, obj: Mapping[str, Any]) -> None: ...


class Reflector:
    """Lists then watches one kind (optionally one namespace/selector) into a sink."""

    def __init__(
        self,
        client: Client,
        kind: KindRef,
        sink: ReflectorSink,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        clock: Clock | None = None,
        page_size: int = 500,
        watch_timeout_range: tuple[int, int] = (300, 600),
        inactivity_timeout: float | None = None,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.gvk = gvk_of(kind)
        self.sink = sink
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.clock: Clock = clock or SystemClock()
        self.page_size = page_size
        low, high = watch_timeout_range
        if not 1 <= low < high:
            raise ValueError(
                "watch_timeout_range must be (low, high) seconds with 1 <= low < high, "
                f"got {watch_timeout_range}"
            )
        if inactivity_timeout is not None and inactivity_timeout <= high:
            raise ValueError(
                f"inactivity_timeout is {inactivity_timeout:g}s, but the reflector asks the server to keep "
                f"a watch open for up to {high - 1}s (watch_timeout_range {watch_timeout_range}); a client "
                "that gives up first cuts quiet watches on a busy server. Use a longer value, or None for "
                f"the watch's timeoutSeconds plus {WATCH_GRACE_S:g}s"
            )
        self.watch_timeout_range = watch_timeout_range
        self.inactivity_timeout = inactivity_timeout
        self.backoff = backoff or Backoff(self.clock)
        self._rng = rng or random.Random()
        self.last_resource_version = ""
        self.synced = asyncio.Event()
        self.list_count = 0
        self.watch_count = 0

    @property
    def name(self) -> str:
        return f"{self.gvk.kind}.{self.gvk.api_version}" + (f" in {self.namespace}" if self.namespace else "")

    async def run(self) -> None:
        """List and watch until cancelled."""
        need_list = True
        list_version = "0"
        while True:
            try:
                if need_list:
                    await self._list(list_version)
                    need_list = False
                await self._watch()
            except asyncio.CancelledError:
                raise
            except Gone as exc:
                log.info(
                    "%s: resource version %s is gone (%s); relisting",
                    self.name,
                    self.last_resource_version,
                    exc,
                )
                if need_list and list_version == "":
                    await self.clock.sleep(self.backoff.next())
                need_list, list_version = True, ""
            except CtrlError as exc:
                delay = self.backoff.next()
                log.warning("%s: %s; retrying in %.1fs", self.name, exc, delay)
                await self.clock.sleep(delay)
                if need_list:
                    list_version = self.last_resource_version or "0"
            except Exception:
                delay = self.backoff.next()
                log.exception("%s: unexpected failure; retrying in %.1fs", self.name, delay)
                await self.clock.sleep(delay)

    async def _list(self, resource_version: str) -> None:
        self.list_count += 1
        items: list[Mapping[str, Any]] = []
        continue_token: str | None = None
        list_rv = ""
        while True:
            page = await self.client.list(
                self.gvk,
                self.namespace,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
                limit=self.page_size,
                continue_token=continue_token,
                resource_version=None if continue_token else resource_version,
            )
            items.extend(page.items)
            list_rv = page.resource_version or list_rv
            if not page.continue_token:
                break
            continue_token = page.continue_token
        self.last_resource_version = list_rv
        self.sink.replace(items, list_rv)
        self.synced.set()

    def silence_limit(self, timeout_seconds: int) -> float:
        """How long a watch asked to last `timeout_seconds` may stay silent before it is called dead."""
        if self.inactivity_timeout is not None:
            return self.inactivity_timeout
        return timeout_seconds + WATCH_GRACE_S

    async def _watch(self) -> None:
        self.watch_count += 1
        timeout = self._rng.randrange(*self.watch_timeout_range)
        stream = await self.client.watch(
            self.gvk,
            self.namespace,
            resource_version=self.last_resource_version,
            timeout_seconds=timeout,
            allow_bookmarks=True,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        )
        silence_limit = self.silence_limit(timeout)
        started = self.clock.monotonic()
        last_seen = [started]
        timer: list[Timer | None] = [None]
        stalled = [False]

        def watchdog() -> None:
            idle = self.clock.monotonic() - last_seen[0]
            if idle >= silence_limit:
                stalled[0] = True
                log.warning(
                    "%s: watch silent for %.0fs (asked the server for %ds); restarting it",
                    self.name,
                    idle,
                    timeout,
                )
                stream.close()
            else:
                timer[0] = self.clock.call_later(silence_limit - idle, watchdog)

        timer[0] = self.clock.call_later(silence_limit, watchdog)
        events = 0
        try:
            async for event in stream:
                last_seen[0] = self.clock.monotonic()
                events += 1
                version = (event.object.get("metadata") or {}).get("resourceVersion")
                if event.type != "BOOKMARK":
                    self.sink.apply(event.type, event.object)
                if version:
                    self.last_resource_version = str(version)
        except TransportError:
            if not stalled[0]:
                raise  # a broken connection backs off; one we closed ourselves is re-watched at once
        finally:
            if timer[0] is not None:
                timer[0].cancel()
            stream.close()
        if events == 0 and not stalled[0] and self.clock.monotonic() - started < 1.0:
            raise _ShortWatch(f"{self.name}: the watch closed at once without any event")


class _ShortWatch(CtrlError):
    pass
