"""WorkQueue: client-go's dirty/processing semantics, delays, rate limiting, shutdown and metrics."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from kaito.ctrl.ratelimiter import ItemExponentialFailureRateLimiter
from kaito.ctrl.testing import FakeClock
from kaito.ctrl.workqueue import ShutDown, WorkQueue


def make(clock: FakeClock, registry: CollectorRegistry, **kw: object) -> WorkQueue[str]:
    return WorkQueue("q", clock=clock, registry=registry, **kw)  # type: ignore[arg-type]


def sample(registry: CollectorRegistry, name: str) -> float:
    value = registry.get_sample_value(name, {"controller": "q", "name": "q"})
    return value or 0.0


async def test_duplicate_adds_of_a_waiting_item_are_one(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    q = make(clock, registry)
    for item in ["a", "b", "a", "a", "b", "c"]:
        q.add(item)
    assert [await q.get() for _ in range(len(q))] == ["a", "b", "c"]
    assert sample(registry, "workqueue_adds_total") == 3


async def test_item_added_while_processing_is_requeued_once_after_done(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    q = make(clock, registry)
    q.add("a")
    item = await q.get()
    q.add("a")
    q.add("a")
    assert len(q) == 0, "an item being processed must not be handed to a second worker"
    q.done(item)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_get_waits_for_an_add(clock: FakeClock, registry: CollectorRegistry) -> None:
    q = make(clock, registry)
    getter = asyncio.create_task(q.get())
    await clock.settle()
    assert not getter.done()
    q.add("x")
    assert await getter == "x"


async def test_cancelled_getter_does_not_lose_the_item(clock: FakeClock, registry: CollectorRegistry) -> None:
    q = make(clock, registry)
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await clock.settle()
    first.cancel()
    q.add("x")
    assert await second == "x"


@pytest.mark.parametrize(
    ("delays", "advance", "expected"),
    [
        ([("a", 0)], 0, ["a"]),
        ([("a", -1)], 0, ["a"]),
        ([("a", 5)], 4.9, []),
        ([("a", 5)], 5, ["a"]),
        ([("a", 5), ("b", 1)], 1, ["b"]),
        ([("a", 5), ("a", 1)], 1, ["a"]),  # re-adding moves an item earlier...
        ([("a", 1), ("a", 5)], 1, ["a"]),  # ...never later
        ([("a", 2), ("b", 1), ("c", 3)], 3, ["b", "a", "c"]),
    ],
)
async def test_add_after(
    clock: FakeClock,
    registry: CollectorRegistry,
    delays: list[tuple[str, float]],
    advance: float,
    expected: list[str],
) -> None:
    q = make(clock, registry)
    for item, delay in delays:
        q.add_after(item, delay)
    await clock.advance(advance)
    assert [await q.get() for _ in range(len(q))] == expected
    assert sample(registry, "workqueue_retries_total") == len(delays)


async def test_delayed_item_already_queued_is_not_duplicated(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    q = make(clock, registry)
    q.add("a")
    q.add_after("a", 1)
    await clock.advance(2)
    assert len(q) == 1


async def test_add_rate_limited_backs_off_exponentially_until_forget(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    q = make(clock, registry, rate_limiter=ItemExponentialFailureRateLimiter(1.0, 100.0))
    waits = []
    for _ in range(4):
        q.add_rate_limited("a")
        started = clock.monotonic()
        while len(q) == 0:
            await clock.advance(0.5)
        waits.append(clock.monotonic() - started)
        q.done(await q.get())
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert q.num_requeues("a") == 4
    q.forget("a")
    assert q.num_requeues("a") == 0


async def test_shutdown_ignores_adds_and_drains_what_is_queued(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    q = make(clock, registry)
    q.add("a")
    q.add_after("later", 1)
    waiting = asyncio.create_task(q.get())
    await clock.settle()
    q.add("b")
    q.shutdown()
    q.add("c")
    await clock.advance(2)
    got = [await waiting]
    got.append(await q.get())
    assert got == ["a", "b"]
    with pytest.raises(ShutDown):
        await q.get()
    assert q.shutting_down


async def test_shutdown_with_drain_waits_for_items_in_flight(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    q = make(clock, registry)
    q.add("a")
    item = await q.get()
    drain = asyncio.create_task(q.shutdown_with_drain())
    await clock.settle()
    assert not drain.done(), "drain must wait for the item being processed"
    q.done(item)
    await asyncio.wait_for(drain, 1)


async def test_metrics_follow_an_item(clock: FakeClock, registry: CollectorRegistry) -> None:
    q = make(clock, registry)
    q.add("a")
    q.add("b")
    assert sample(registry, "workqueue_depth") == 2
    await clock.advance(3)
    item = await q.get()
    assert sample(registry, "workqueue_depth") == 1
    assert (
        registry.get_sample_value("workqueue_queue_duration_seconds_sum", {"controller": "q", "name": "q"})
        == 3
    )
    await clock.advance(1.0)
    assert sample(registry, "workqueue_longest_running_processor_seconds") == pytest.approx(1.0)
    assert sample(registry, "workqueue_unfinished_work_seconds") == pytest.approx(1.0)
    await clock.advance(1.0)
    q.done(item)
    assert (
        registry.get_sample_value("workqueue_work_duration_seconds_sum", {"controller": "q", "name": "q"})
        == 2
    )
    q.shutdown()


async def test_many_workers_same_keys_never_concurrent_never_lost(
    clock: FakeClock, registry: CollectorRegistry
) -> None:
    """20 workers, 50 producers adding 10 keys at random: no key is processed twice at once, and every
    key added after its last processing started is processed again (no lost update)."""
    q = make(clock, registry)
    rng = random.Random(4)
    keys = [f"k{i}" for i in range(10)]
    in_flight: set[str] = set()
    last_add: dict[str, int] = {}
    last_start: dict[str, int] = {}
    tick = 0
    violations: list[str] = []

    async def worker() -> None:
        nonlocal tick
        while True:
            try:
                key = await q.get()
            except ShutDown:
                return
            if key in in_flight:
                violations.append(key)
            in_flight.add(key)
            tick += 1
            last_start[key] = tick
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)
            in_flight.discard(key)
            q.done(key)

    async def producer() -> None:
        nonlocal tick
        for _ in range(40):
            key = rng.choice(keys)
            tick += 1
            last_add[key] = tick
            q.add(key)
            await asyncio.sleep(0)

    workers = [asyncio.create_task(worker()) for _ in range(20)]
    await asyncio.gather(*(producer() for _ in range(50)))
    await q.shutdown_with_drain()
    await asyncio.gather(*workers)
    assert violations == []
    for key, added in last_add.items():
        assert last_start[key] > added, (
            f"{key} was added after its last processing started and never processed"
        )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "get", "done"]), st.integers(0, 3)), max_size=60))
def test_invariants_hold_after_any_sequence_of_operations(ops: list[tuple[str, int]]) -> None:
    """After any operations: queued items are dirty, not processing, unique; dirty ones are queued or held."""

    async def run() -> None:
        q: WorkQueue[int] = WorkQueue("prop", clock=FakeClock(), metrics=False)
        held: list[int] = []
        for op, item in ops:
            if op == "add":
                q.add(item)
            elif op == "get" and len(q):
                held.append(await q.get())
            elif op == "done" and held:
                q.done(held.pop(item % len(held)))
            queued = list(q._queue)
            assert len(queued) == len(set(queued))
            assert set(queued) <= q._dirty
            assert not set(queued) & q._processing
            assert q._dirty <= set(queued) | q._processing
            assert q._processing == set(held)

    asyncio.run(run())
