"""A rate-limited, delaying work queue with client-go's semantics, for one asyncio event loop.

Data and invariants (checked by the unit tests one by one):

* `_queue`      FIFO of items waiting to be handed out.
* `_dirty`      items that need processing. Every item in `_queue` is in `_dirty`.
* `_processing` items handed out by `get()` and not yet `done()`. No item in `_queue` is in `_processing`
                — so an item is never processed by two workers at once.
* `add(x)` is a no-op if x is dirty (already waiting, or re-added during processing). If x is being
  processed it is only marked dirty; `done(x)` then pushes it back exactly once.
* `_waiting` is a min-heap of (ready_at, seq, item) for `add_after`; `_waiting_at[item]` is the item's one
  live entry — re-adding an item that is already waiting only moves it earlier. A single clock timer is
  armed for the earliest entry.
* After `shutdown()` adds are ignored, but `get()` still hands out what is queued (client-go does the same)
  and raises `ShutDown` once the queue is empty. `shutdown_with_drain()` also waits until every handed-out
  item is `done()`.

Metrics (controller-runtime names, labels controller/name): depth, adds (non-duplicate adds), queue
duration (first add → get), work duration (get → done), retries (every `add_after`/`add_rate_limited`),
and the unfinished-work / longest-running gauges, refreshed every 500 ms while the queue lives.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

from kaito.ctrl.clock import Clock, SystemClock, Timer
from kaito.ctrl.metrics import workqueue_metrics
from kaito.ctrl.ratelimiter import RateLimiter, default_controller_rate_limiter

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["ShutDown", "WorkQueue"]

T = TypeVar("T", bound=Hashable)

_GAUGE_REFRESH_S = 0.5


class ShutDown(Exception):
    """`get()` on a queue that is shut down and empty."""


class WorkQueue(Generic[T]):
    """Dirty/processing work queue with delayed and rate-limited adds."""

    def __init__(
        self,
        name: str,
        *,
        rate_limiter: RateLimiter | None = None,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
        metrics: bool = True,
    ) -> None:
        self.name = name
        self._clock: Clock = clock or SystemClock()
        self.rate_limiter: RateLimiter = rate_limiter or default_controller_rate_limiter(self._clock)
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False
        self._drained: asyncio.Event | None = None
        # add_after state
        self._waiting: list[tuple[float, int, T]] = []
        self._waiting_at: dict[T, float] = {}
        self._seq = itertools.count()
        self._timer: Timer | None = None
        self._timer_at: float | None = None
        # metrics state
        self._added_at: dict[T, float] = {}
        self._started_at: dict[T, float] = {}
        self._gauge_timer: Timer | None = None
        m = workqueue_metrics(registry) if metrics else None
        self._m_depth = m.depth.labels(name, name) if m else None
        self._m_adds = m.adds.labels(name, name) if m else None
        self._m_queue_duration = m.queue_duration.labels(name, name) if m else None
        self._m_work_duration = m.work_duration.labels(name, name) if m else None
        self._m_retries = m.retries.labels(name, name) if m else None
        self._m_unfinished = m.unfinished_work.labels(name, name) if m else None
        self._m_longest = m.longest_running.labels(name, name) if m else None

    # ---- the basic queue ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, item: T) -> None:
        """Mark `item` as needing work; queue it unless it is already waiting or being processed."""
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if self._m_adds is not None:
            self._m_adds.inc()
            self._added_at.setdefault(item, self._clock.monotonic())
            self._start_gauges()
        if item in self._processing:
            return
        self._push(item)

    def _push(self, item: T) -> None:
        self._queue.append(item)
        if self._m_depth is not None:
            self._m_depth.set(len(self._queue))
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                break

    async def get(self) -> T:
        """Wait for an item and mark it as being processed; raises ShutDown when shut down and empty."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(f"work queue {self.name!r} is shut down")
            getter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except asyncio.CancelledError:
                if getter.done() and not getter.cancelled() and self._queue:
                    self._wake_one()  # we were handed a wake-up we will not use: pass it on
                raise
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        if self._m_depth is not None:
            now = self._clock.monotonic()
            self._m_depth.set(len(self._queue))
            added = self._added_at.pop(item, None)
            if added is not None and self._m_queue_duration is not None:
                self._m_queue_duration.observe(now - added)
            self._started_at[item] = now
        return item

    def _wake_one(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    def done(self, item: T) -> None:
        """Processing of `item` finished; if it was re-added meanwhile, queue it again."""
        self._processing.discard(item)
        started = self._started_at.pop(item, None)
        if started is not None and self._m_work_duration is not None:
            self._m_work_duration.observe(self._clock.monotonic() - started)
        if item in self._dirty:
            self._push(item)
        if not self._processing and self._drained is not None:
            self._drained.set()

    # ---- delays and rate limiting -------------------------------------------------------------------

    def add_after(self, item: T, delay: float) -> None:
        """Add `item` after `delay` seconds; an item already waiting only ever moves earlier."""
        if self._shutting_down:
            return
        if self._m_retries is not None:
            self._m_retries.inc()
        if delay <= 0:
            self.add(item)
            return
        ready_at = self._clock.monotonic() + delay
        current = self._waiting_at.get(item)
        if current is not None and current <= ready_at:
            return
        self._waiting_at[item] = ready_at
        heapq.heappush(self._waiting, (ready_at, next(self._seq), item))
        self._arm_timer()

    def _arm_timer(self) -> None:
        while self._waiting and self._waiting_at.get(self._waiting[0][2]) != self._waiting[0][0]:
            heapq.heappop(self._waiting)  # stale entry: the item moved earlier or was already added
        if not self._waiting:
            return
        head = self._waiting[0][0]
        if self._timer is not None and self._timer_at is not None and self._timer_at <= head:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = head
        self._timer = self._clock.call_later(head - self._clock.monotonic(), self._fire_waiting)

    def _fire_waiting(self) -> None:
        self._timer = None
        self._timer_at = None
        now = self._clock.monotonic()
        while self._waiting and self._waiting[0][0] <= now:
            ready_at, _, item = heapq.heappop(self._waiting)
            if self._waiting_at.get(item) == ready_at:
                del self._waiting_at[item]
                self.add(item)
        self._arm_timer()

    def add_rate_limited(self, item: T) -> None:
        """Add `item` once the rate limiter allows it (a failure: the item's backoff grows)."""
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """Clear the item's failure history (it succeeded); `done()` is still required."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)

    # ---- shutdown -----------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Ignore further adds; wake every waiting `get()` (which then drains the queue or raises)."""
        self._shutting_down = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._gauge_timer is not None:
            self._gauge_timer.cancel()
            self._gauge_timer = None
        self._waiting.clear()
        self._waiting_at.clear()
        for getter in self._getters:
            if not getter.done():
                getter.set_result(None)
        self._getters.clear()

    async def shutdown_with_drain(self) -> None:
        """Shut down, then wait until every handed-out item is done()."""
        self._drained = asyncio.Event()
        if not self._processing:
            self._drained.set()
        self.shutdown()
        await self._drained.wait()

    # ---- gauges -------------------------------------------------------------------------------------

    def _start_gauges(self) -> None:
        if self._gauge_timer is None and not self._shutting_down:
            try:
                self._gauge_timer = self._clock.call_later(_GAUGE_REFRESH_S, self._refresh_gauges)
            except RuntimeError:  # no running loop (queue used synchronously): gauges refresh on next add
                self._gauge_timer = None

    def _refresh_gauges(self) -> None:
        self._gauge_timer = None
        if self._m_unfinished is None or self._m_longest is None:
            return
        now = self._clock.monotonic()
        running = [now - started for started in self._started_at.values()]
        self._m_unfinished.set(sum(running))
        self._m_longest.set(max(running, default=0.0))
        if self._started_at or self._queue or self._waiting:
            self._start_gauges()
