"""FakeClock: time moves only on advance(); timers and sleepers fire in deadline order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from kaito.ctrl.clock import SystemClock
from kaito.ctrl.testing import FakeClock


async def test_sleepers_wake_in_order_and_only_when_due(clock: FakeClock) -> None:
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in [("c", 3), ("a", 1), ("b", 2)]]
    await clock.advance(1.5)
    assert woke == ["a"]
    await clock.advance(10)
    assert woke == ["a", "b", "c"]
    await asyncio.gather(*tasks)


async def test_chained_sleeps_complete_within_one_advance(clock: FakeClock) -> None:
    ticks: list[float] = []

    async def ticker() -> None:
        for _ in range(5):
            await clock.sleep(1)
            ticks.append(clock.monotonic())

    task = asyncio.create_task(ticker())
    await clock.advance(5)
    assert ticks == [1, 2, 3, 4, 5]
    await task


async def test_cancelled_timer_never_fires_and_wall_time_follows(clock: FakeClock) -> None:
    fired: list[int] = []
    timer = clock.call_later(1, lambda: fired.append(1))
    clock.call_later(2, lambda: fired.append(2))
    timer.cancel()
    start = clock.now()
    await clock.advance(3)
    assert fired == [2]
    assert clock.now() - start == timedelta(seconds=3)
    assert clock.pending_timers == 0


async def test_system_clock_really_sleeps() -> None:
    real = SystemClock()
    before = real.monotonic()
    await real.sleep(0.01)
    assert real.monotonic() - before >= 0.009
    fired = asyncio.Event()
    real.call_later(0.0, fired.set)
    await asyncio.wait_for(fired.wait(), 1)
