"""Controller: controller-runtime's result handling, metrics, worker survival and concurrency."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from kaito.ctrl.client import GVK, Client
from kaito.ctrl.controller import DEFAULT_MAX_CONCURRENT_RECONCILES, CacheSyncTimeout, Controller
from kaito.ctrl.errors import TerminalError
from kaito.ctrl.handlers import EnqueueRequestForObject
from kaito.ctrl.informer import SharedInformer
from kaito.ctrl.predicates import GenerationChanged
from kaito.ctrl.ratelimiter import ItemExponentialFailureRateLimiter
from kaito.ctrl.reconcile import ReconcilerFunc, Request, Result
from kaito.ctrl.testing import FakeClock

REQ = Request("default", "a")


def reconciler(outcome: Callable[[], Result]) -> ReconcilerFunc:
    async def fn(request: Request) -> Result:
        return outcome()

    return ReconcilerFunc(fn)


def raise_(exc: Exception) -> Callable[[], Result]:
    def go() -> Result:
        raise exc

    return go


def total(registry: CollectorRegistry, result: str) -> float:
    return (
        registry.get_sample_value("controller_runtime_reconcile_total", {"controller": "c", "result": result})
        or 0
    )


@pytest.mark.parametrize(
    ("outcome", "label", "queued_after", "requeues", "errors", "terminal"),
    [
        (lambda: Result(), "success", None, 0, 0, 0),
        (lambda: Result(requeue_after=30), "requeue_after", 30.0, 0, 0, 0),
        (lambda: Result(requeue=True), "requeue", 2.0, 2, 0, 0),
        (raise_(RuntimeError("boom")), "error", 2.0, 2, 1, 0),
        (raise_(TerminalError("bad spec")), "error", None, 1, 1, 1),
    ],
)
async def test_result_handling(
    clock: FakeClock,
    registry: CollectorRegistry,
    outcome: Callable[[], Result],
    label: str,
    queued_after: float | None,
    requeues: int,
    errors: int,
    terminal: int,
) -> None:
    c = Controller(
        "c",
        reconciler(outcome),
        clock=clock,
        registry=registry,
        rate_limiter=ItemExponentialFailureRateLimiter(1.0, 60.0),
    )
    c.queue.rate_limiter.when(REQ)  # one past failure: success and requeue_after forget it, errors add one
    await c.process(REQ)
    assert total(registry, label) == 1
    assert c.queue.num_requeues(REQ) == requeues


def test_result_rejects_negative_delays() -> None:
    with pytest.raises(ValueError, match="requeue_after must be >= 0"):
        Result(requeue_after=-1)


async def run_controller(c: Controller, clock: FakeClock) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(c.run(stop))
    await clock.settle()
    return stop, task


async def test_a_raising_reconcile_is_retried_with_backoff_and_the_worker_survives(
    clock: FakeClock, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[float] = []

    async def flaky(request: Request) -> Result:
        attempts.append(clock.monotonic())
        if len(attempts) < 4:
            raise RuntimeError("transient")
        return Result()

    c = Controller("c", ReconcilerFunc(flaky), clock=clock, registry=registry)
    stop, task = await run_controller(c, clock)
    caplog.set_level(logging.ERROR, logger="kaito.ctrl.controller")
    c.queue.add(REQ)
    for _ in range(20):
        await clock.advance(0.05)
    assert len(attempts) == 4
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(attempts)]
    assert gaps[0] < gaps[1] < gaps[2], f"backoff must grow: {gaps}"
    failures = [r for r in caplog.records if "reconcile failed" in r.getMessage()]
    assert len(failures) == 3 and all(getattr(r, "key", None) == "default/a" for r in failures)
    assert all(getattr(r, "controller", None) == "c" for r in failures)
    c.queue.add(Request("default", "b"))
    await clock.advance(0.01)
    assert len(attempts) == 5, "the worker is still alive"
    stop.set()
    await task


async def test_workers_bounded_and_one_object_never_reconciled_twice_at_once(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    running: dict[Request, int] = {}
    peak = 0
    overlap: list[Request] = []
    gate = asyncio.Event()

    async def slow(request: Request) -> Result:
        nonlocal peak
        if running.get(request):
            overlap.append(request)
        running[request] = running.get(request, 0) + 1
        peak = max(peak, sum(running.values()))
        await gate.wait()
        running[request] -= 1
        return Result()

    c = Controller("c", ReconcilerFunc(slow), clock=clock, registry=registry, max_concurrent_reconciles=3)
    stop, task = await run_controller(c, clock)
    for i in range(10):
        for _ in range(5):
            c.queue.add(Request("default", f"o{i % 4}"))
    await clock.settle()
    assert peak == 3
    assert registry.get_sample_value("controller_runtime_active_workers", {"controller": "c"}) == 3
    assert registry.get_sample_value("controller_runtime_max_concurrent_reconciles", {"controller": "c"}) == 3
    gate.set()
    await clock.advance(1)
    assert overlap == []
    stop.set()
    await task
    assert registry.get_sample_value("controller_runtime_active_workers", {"controller": "c"}) == 0


@pytest.mark.parametrize(
    ("options", "in_flight"), [({}, DEFAULT_MAX_CONCURRENT_RECONCILES), ({"max_concurrent_reconciles": 1}, 1)]
)
async def test_a_backlog_is_worked_on_concurrently_by_default(
    clock: FakeClock, registry: CollectorRegistry, options: dict[str, Any], in_flight: int
) -> None:
    """A backlog of distinct objects: by default 16 reconciles wait on the server at once, not one."""
    waiting = 0
    peak = 0
    gate = asyncio.Event()

    async def round_trip(request: Request) -> Result:
        nonlocal waiting, peak
        waiting += 1
        peak = max(peak, waiting)
        await gate.wait()
        waiting -= 1
        return Result()

    c = Controller("c", ReconcilerFunc(round_trip), clock=clock, registry=registry, **options)
    stop, task = await run_controller(c, clock)
    for i in range(100):
        c.queue.add(Request("default", f"o{i}"))
    await clock.settle()
    assert peak == in_flight
    gate.set()
    await clock.settle()
    assert len(c.queue) == 0 and waiting == 0
    stop.set()
    await task


async def test_events_flow_from_informer_through_predicates(
    client: Client, fake_api: Any, clock: FakeClock, registry: CollectorRegistry, make_configmap: Any
) -> None:
    seen: list[str] = []

    async def record(request: Request) -> Result:
        seen.append(request.name)
        return Result()

    informer = SharedInformer(client, GVK("v1", "ConfigMap"), clock=clock)
    c = Controller("c", ReconcilerFunc(record), clock=clock, registry=registry)
    c.watch(informer, EnqueueRequestForObject(), [GenerationChanged()])
    fake_api.put("configmaps", make_configmap("a"))
    informer.start()
    stop, task = await run_controller(c, clock)
    await clock.advance(0.1)
    assert seen == ["a"]
    fake_api.put("configmaps", make_configmap("a", only="status-like"))  # same generation: filtered
    await clock.advance(0.1)
    assert seen == ["a"]
    spec_change = make_configmap("a")
    spec_change["metadata"]["generation"] = 2
    fake_api.put("configmaps", spec_change)
    await clock.advance(0.1)
    assert seen == ["a", "a"]
    stop.set()
    await task
    await informer.stop()


async def test_cache_sync_timeout_names_the_informer(client: Client, registry: CollectorRegistry) -> None:
    informer = SharedInformer(client, GVK("v1", "ConfigMap"))  # never started
    c = Controller("c", reconciler(Result), registry=registry, cache_sync_timeout=0.01)
    c.watch(informer, EnqueueRequestForObject())
    with pytest.raises(CacheSyncTimeout, match=r"ConfigMap\.v1 did not sync within 0\.01s"):
        await c.run(asyncio.Event())


def test_needs_at_least_one_worker(registry: CollectorRegistry) -> None:
    with pytest.raises(ValueError, match="max_concurrent_reconciles must be at least 1, got 0"):
        Controller("c", reconciler(Result), registry=registry, max_concurrent_reconciles=0)
