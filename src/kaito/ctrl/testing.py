"""Test doubles for code built on kaito.ctrl: a clock that moves only when told, and an in-memory server.

* `FakeClock`: time stands still until `advance()`; timers fire in deadline order and the loop runs
  between them, so code that sleeps, re-arms a timer and sleeps again behaves as in real time, instantly.
  Invariant: `_timers` is a heap of (deadline, seq, timer); a timer fires at most once, and never before
  `monotonic()` has reached its deadline.
* `MockTransport(handler)`: every request of a `Client` goes to `handler(HttpRequest) -> HttpResponse`
  (sync or async) and is recorded in `requests`; `MockResponse` builds answers (`json=`, `body=`,
  `stream=`), `MockStream` feeds a watch line by line.

They live here, not in the package's public names, because production code never needs them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from kaito.ctrl.clock import Timer
from kaito.ctrl.transport import HttpRequest, HttpResponse

__all__ = ["FakeClock", "MockResponse", "MockStream", "MockTransport"]


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


class MockResponse:
    """An HttpResponse built in memory: `json=` a document, `body=` bytes, `stream=` watch lines."""

    def __init__(
        self,
        status: int = 200,
        *,
        json: Any = None,
        body: bytes = b"",
        stream: AsyncIterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._status = status
        self._body = body if json is None else _dumps(json)
        self._stream = stream
        self._headers = dict(headers or {})
        self.closed = False

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    async def read(self) -> bytes:
        if self._stream is None:
            return self._body
        return b"".join([chunk async for chunk in self._stream])

    async def iter_lines(self) -> AsyncIterator[bytes]:
        if self._stream is None:
            for line in self._body.splitlines():
                if self.closed:
                    return
                yield line
            return
        async for chunk in self._stream:
            if self.closed:
                return
            yield chunk

    def close(self) -> None:
        self.closed = True
        if isinstance(self._stream, MockStream):
            self._stream.end()


class MockStream:
    """A watch body fed by the test: `send(type, obj)` writes one event line, `end()` closes the stream."""

    def __init__(self) -> None:
        self._lines: asyncio.Queue[bytes | None] = asyncio.Queue()

    def send(self, event_type: str, obj: Mapping[str, Any]) -> None:
        self._lines.put_nowait(_dumps({"type": event_type, "object": obj}))

    def end(self) -> None:
        self._lines.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        line = await self._lines.get()
        if line is None:
            self._lines.put_nowait(None)
            raise StopAsyncIteration
        return line


Handler = Callable[[HttpRequest], "HttpResponse | Awaitable[HttpResponse]"]


class MockTransport:
    """Routes every request to `handler`, a plain (sync or async) function; records requests for asserts."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[HttpRequest] = []

    async def send(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        result = self._handler(request)
        if isinstance(result, Awaitable):
            result = await result
        return result

    async def close(self) -> None:
        return None


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
