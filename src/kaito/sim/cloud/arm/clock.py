"""Time for the ARM endpoint: a wall clock plus one-shot timers, injectable so tests run in fake time.

The endpoint never polls. Every delayed effect (an operation finishing, a node turning Ready) is a timer
scheduled once with :meth:`Clock.call_later`; cancelling the timer cancels the effect.

- :class:`LoopClock` is the real thing: ``datetime.now(UTC)`` and the running asyncio loop's ``call_later``.
- :class:`ManualClock` stands still until :meth:`ManualClock.advance` moves it; due callbacks then run in
  due order (ties in scheduling order), including ones scheduled by callbacks that fall inside the window.
  Invariant: ``now()`` never goes backwards, and a callback never runs before ``now() >= due``.
"""

from __future__ import annotations

import asyncio
import datetime
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Clock", "LoopClock", "ManualClock", "Timer"]


class Timer(Protocol):
    """A scheduled callback that can still be called off."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """The current time and a way to run a callback later."""

    def now(self) -> datetime.datetime: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...


class LoopClock:
    """Wall-clock time and the running event loop's timers."""

    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)


@dataclass(order=True)
class _Entry:
    due: datetime.datetime
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that moves only when told to; for tests that must not sleep."""

    def __init__(self, start: datetime.datetime | None = None) -> None:
        self._now = start or datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        self._queue: list[_Entry] = []
        self._seq = itertools.count()

    def now(self) -> datetime.datetime:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        entry = _Entry(self._now + datetime.timedelta(seconds=max(0.0, delay)), next(self._seq), callback)
        heapq.heappush(self._queue, entry)
        return entry

    @property
    def pending(self) -> int:
        """How many timers are scheduled and not cancelled."""
        return sum(not entry.cancelled for entry in self._queue)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, running every callback that falls due on the way."""
        if seconds < 0:
            raise ValueError(f"seconds is {seconds}; a clock only moves forward (use 0 or more)")
        target = self._now + datetime.timedelta(seconds=seconds)
        while self._queue and self._queue[0].due <= target:
            entry = heapq.heappop(self._queue)
            if entry.cancelled:
                continue
            self._now = max(self._now, entry.due)
            entry.callback()
        self._now = target
