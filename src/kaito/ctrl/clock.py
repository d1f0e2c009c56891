"""Injectable time: every delay, deadline and timestamp in kaito.ctrl goes through a `Clock`.

Production code uses `SystemClock` (the event loop's monotonic time and `loop.call_later`). Tests use
`FakeClock`, whose time only moves when the test calls `advance()`; timers fire in deadline order and the
loop is given a chance to run between them, so code that sleeps, re-arms a timer and sleeps again behaves
exactly as it would in real time, only instantly.

Invariant of `FakeClock`: `_timers` is a heap of (deadline, seq, timer); a timer fires at most once, and
never before `monotonic()` has reached its deadline.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock", "Timer"]


class Timer(Protocol):
    """A scheduled callback that can be cancelled before it fires."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic time for durations, wall time for timestamps, sleeping and timers."""

    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...


class SystemClock:
    """The real clock: asyncio's loop time and UTC wall time."""

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)


class _FakeTimer:
    __slots__ = ("callback", "cancelled", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that stands still until `advance()` moves it; for tests that must not sleep for real."""

    def __init__(self, start: datetime | None = None, *, settle_steps: int = 20) -> None:
        self._t = 0.0
        self._epoch = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()
        self._settle_steps = settle_steps

    def monotonic(self) -> float:
        return self._t

    def now(self) -> datetime:
        return self._epoch + timedelta(seconds=self._t)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = _FakeTimer(self._t + max(0.0, delay), callback)
        heapq.heappush(self._timers, (timer.deadline, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await future
        finally:
            timer.cancel()

    @property
    def pending_timers(self) -> int:
        """How many timers (sleepers included) are armed and not cancelled."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)

    async def settle(self) -> None:
        """Let every task that is ready run (a few loop iterations), without moving time."""
        for _ in range(self._settle_steps):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, firing due timers in order and letting the loop run after each."""
        target = self._t + max(0.0, seconds)
        await self.settle()
        while self._timers and self._timers[0][0] <= target:
            deadline, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._t = max(self._t, deadline)
            timer.callback()
            await self.settle()
        self._t = target
        await self.settle()
