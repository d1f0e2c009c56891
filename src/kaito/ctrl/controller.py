"""A controller: informer events → (predicates, handler) → work queue → N workers → Reconciler.

Result handling is controller-runtime's, exactly:

    reconcile raised TerminalError   → no requeue; errors and terminal-errors counted; result="error"
    reconcile raised anything else   → add_rate_limited (the Result is ignored); result="error"
    Result(requeue_after=s), s > 0   → forget + add_after(s); result="requeue_after"
    Result(requeue=True)             → add_rate_limited; result="requeue"
    Result()                         → forget; result="success"

An exception never kills a worker: it is logged (JSON, with the controller and the object key) and the
request is retried with the queue's backoff. The work queue guarantees that one object is never
reconciled by two workers at once; `max_concurrent_reconciles` bounds how many objects are in flight.
Its default is `DEFAULT_MAX_CONCURRENT_RECONCILES` (16), not controller-runtime's 1: a worker here is a
coroutine, not a goroutine pinned to blocking calls, and one worker waits out every round trip to the API
server in turn, so a backlog (after a restart, a failover, a burst of creates) drains at the speed of one
request at a time instead of the server's pace. Pass 1 for strictly one reconcile at a time.

`run(stop)` waits for the controller's informers to sync (`cache_sync_timeout`), starts the workers,
and when `stop` is set shuts the queue down and lets each worker finish the request in hand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from random import getrandbits as _random_bits
from typing import TYPE_CHECKING, Any

from kaito.ctrl.clock import Clock, SystemClock
from kaito.ctrl.errors import CtrlError, TerminalError
from kaito.ctrl.handlers import RequestHandler
from kaito.ctrl.informer import HandlerRegistration, SharedInformer
from kaito.ctrl.metrics import controller_metrics
from kaito.ctrl.predicates import Predicate
from kaito.ctrl.ratelimiter import RateLimiter
from kaito.ctrl.reconcile import Reconciler, Request, Result
from kaito.ctrl.workqueue import ShutDown, WorkQueue

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["CacheSyncTimeout", "Controller"]

log = logging.getLogger("kaito.ctrl.controller")

DEFAULT_MAX_CONCURRENT_RECONCILES = 16
"""Objects one controller reconciles at once unless told otherwise (see the module docstring)."""


class CacheSyncTimeout(CtrlError):
    """A controller's informers did not sync within its cache-sync timeout."""


class EventSource:
    """Adapts one informer's events through predicates and a request handler into the queue."""

    def __init__(
        self, queue: WorkQueue[Request], handler: RequestHandler, predicates: Sequence[Predicate]
    ) -> None:
        self.queue = queue
        self.handler = handler
        self.predicates = tuple(predicates)

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        if all(p.create(obj) for p in self.predicates):
            for request in self.handler.create(obj):
                self.queue.add(request)

    def on_update(self, old: Any, new: Any) -> None:
        if all(p.update(old, new) for p in self.predicates):
            for request in self.handler.update(old, new):
                self.queue.add(request)

    def on_delete(self, obj: Any) -> None:
        if all(p.delete(obj) for p in self.predicates):
            for request in self.handler.delete(obj):
                self.queue.add(request)


class Controller:
    """Runs a Reconciler over the requests produced by its watches."""

    def __init__(
        self,
        name: str,
        reconciler: Reconciler,
        *,
        max_concurrent_reconciles: int = DEFAULT_MAX_CONCURRENT_RECONCILES,
        rate_limiter: RateLimiter | None = None,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
        cache_sync_timeout: float = 120.0,
        need_leader_election: bool = True,
    ) -> None:
        if max_concurrent_reconciles < 1:
            raise ValueError(f"max_concurrent_reconciles must be at least 1, got {max_concurrent_reconciles}")
        self.name = name
        self.reconciler = reconciler
        self.max_concurrent_reconciles = max_concurrent_reconciles
        self.clock: Clock = clock or SystemClock()
        self.cache_sync_timeout = cache_sync_timeout
        self.need_leader_election = need_leader_election
        self.queue: WorkQueue[Request] = WorkQueue(
            name, rate_limiter=rate_limiter, clock=self.clock, registry=registry
        )
        metrics = controller_metrics(registry)
        # the labelled children are looked up once: labels() takes a lock and builds a tuple per call
        self._m_outcome = {
            outcome: metrics.reconcile_total.labels(name, outcome)
            for outcome in ("success", "error", "requeue", "requeue_after")
        }
        self._m_errors = metrics.reconcile_errors.labels(name)
        self._m_terminal = metrics.terminal_errors.labels(name)
        self._m_time = metrics.reconcile_time.labels(name)
        self._m_active = metrics.active_workers.labels(name)
        metrics.max_concurrent.labels(name).set(max_concurrent_reconciles)
        self._sources: list[tuple[SharedInformer, HandlerRegistration]] = []
        self._stopping = False

    def watch(
        self, informer: SharedInformer, handler: RequestHandler, predicates: Sequence[Predicate] = ()
    ) -> None:
        """Enqueue the requests `handler` maps from `informer`'s events that pass every predicate."""
        registration = informer.add_event_handler(EventSource(self.queue, handler, predicates))
        self._sources.append((informer, registration))

    async def wait_for_sync(self) -> None:
        """Wait until every source informer listed and delivered its objects; CacheSyncTimeout if not."""
        try:
            async with asyncio.timeout(self.cache_sync_timeout):
                for informer, registration in self._sources:
                    await informer.wait_for_sync()
                    await registration.wait_synced()
        except TimeoutError:
            pending = [i.name for i, r in self._sources if not r.has_synced]
            raise CacheSyncTimeout(
                f"controller {self.name!r}: caches of {', '.join(pending)} did not sync within "
                f"{self.cache_sync_timeout:g}s"
            ) from None

    async def run(self, stop: asyncio.Event) -> None:
        """Sync, run the workers until `stop` is set, then stop them after their current request."""
        await self.wait_for_sync()
        log.info("starting workers", extra={"controller": self.name})
        async with asyncio.TaskGroup() as group:
            for index in range(self.max_concurrent_reconciles):
                group.create_task(self._worker(), name=f"{self.name} worker {index}")
            await stop.wait()
            self._stopping = True
            self.queue.shutdown()
        log.info("workers stopped", extra={"controller": self.name})

    async def _worker(self) -> None:
        while True:
            try:
                request = await self.queue.get()
            except ShutDown:
                return
            if self._stopping:
                self.queue.done(request)
                return
            self._m_active.inc()
            try:
                await self.process(request)
            finally:
                self._m_active.dec()
                self.queue.done(request)

    async def process(self, request: Request) -> None:
        """Reconcile one request and requeue it according to the outcome (see the module docstring)."""
        reconcile_id = f"{_random_bits(48):012x}"  # names this attempt in the logs (not a secret)
        started = self.clock.monotonic()
        try:
            result = await self.reconciler.reconcile(request)
        except asyncio.CancelledError:
            raise
        except TerminalError as exc:
            self._m_terminal.inc()
            self._m_errors.inc()
            self._m_outcome["error"].inc()
            log.error(
                "reconcile failed terminally, not requeued: %s",
                exc,
                extra=self._log_context(request, reconcile_id),
            )
            return
        except Exception as exc:
            self._m_errors.inc()
            self._m_outcome["error"].inc()
            self.queue.add_rate_limited(request)
            log.error(
                "reconcile failed; requeued with backoff (%d failures so far): %r",
                self.queue.num_requeues(request),
                exc,
                exc_info=not isinstance(exc, CtrlError),
                extra=self._log_context(request, reconcile_id),
            )
            return
        finally:
            self._m_time.observe(self.clock.monotonic() - started)
        self._handle_result(request, result)

    def _log_context(self, request: Request, reconcile_id: str) -> dict[str, str]:
        return {"controller": self.name, "key": str(request), "reconcile_id": reconcile_id}

    def _handle_result(self, request: Request, result: Result) -> None:
        if result.requeue_after:
            self.queue.forget(request)
            self.queue.add_after(request, result.requeue_after)
            self._m_outcome["requeue_after"].inc()
        elif result.requeue:
            self.queue.add_rate_limited(request)
            self._m_outcome["requeue"].inc()
        else:
            self.queue.forget(request)
            self._m_outcome["success"].inc()
