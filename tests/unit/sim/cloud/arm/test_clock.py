"""The ARM endpoint's clocks: manual time runs due callbacks in order, the loop clock uses real timers."""

from __future__ import annotations

import asyncio
import datetime

import pytest

from kaito.sim.cloud.arm.clock import LoopClock, ManualClock


def test_manual_clock_runs_due_callbacks_in_due_order_and_stops_at_the_target() -> None:
    clock = ManualClock()
    start = clock.now()
    fired: list[tuple[str, float]] = []

    def record(label: str) -> None:
        fired.append((label, (clock.now() - start).total_seconds()))

    clock.call_later(2.0, lambda: record("b"))
    clock.call_later(1.0, lambda: record("a"))
    clock.call_later(1.0, lambda: record("a2"))
    clock.call_later(5.0, lambda: record("late"))
    clock.advance(3.0)
    assert fired == [("a", 1.0), ("a2", 1.0), ("b", 2.0)]
    assert clock.now() - start == datetime.timedelta(seconds=3)
    assert clock.pending == 1


def test_callbacks_scheduled_by_callbacks_inside_the_window_run_too() -> None:
    clock = ManualClock()
    fired: list[str] = []
    clock.call_later(1.0, lambda: clock.call_later(1.0, lambda: fired.append("chained")))
    clock.advance(2.0)
    assert fired == ["chained"]


def test_cancelled_timer_never_runs() -> None:
    clock = ManualClock()
    fired: list[str] = []
    timer = clock.call_later(1.0, lambda: fired.append("x"))
    timer.cancel()
    clock.advance(10)
    assert fired == [] and clock.pending == 0


def test_manual_clock_refuses_to_go_back() -> None:
    with pytest.raises(ValueError, match="only moves forward"):
        ManualClock().advance(-1)


async def test_loop_clock_fires_on_the_event_loop() -> None:
    clock = LoopClock()
    done = asyncio.Event()
    clock.call_later(0.01, done.set)
    await asyncio.wait_for(done.wait(), 1)
    assert clock.now().tzinfo is datetime.UTC
