"""Rate limiters for requeues: how long an item waits before it is retried.

A limiter answers three questions about an item: `when(item)` (how long to wait now; calling it records
one more failure), `num_requeues(item)` and `forget(item)` (the item succeeded: reset its history).

* `ItemExponentialFailureRateLimiter`: base·2^failures, capped (client-go's per-item backoff).
* `BucketRateLimiter`: a token bucket shared by all items (qps, burst), like golang.org/x/time/rate's
  Reserve().Delay(): a reservation always succeeds and says how long to wait, so the bucket may go negative.
* `MaxOfRateLimiter`: the longest wait of several limiters.

`default_controller_rate_limiter()` is controller-runtime's default: max(per-item 5 ms·2^n capped at
1000 s, bucket 10 qps burst 100).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from kaito.ctrl.clock import Clock, SystemClock

__all__ = [
    "BucketRateLimiter",
    "ItemExponentialFailureRateLimiter",
    "MaxOfRateLimiter",
    "RateLimiter",
    "default_controller_rate_limiter",
]


class RateLimiter(Protocol):
    """Decides how long an item waits before its next retry."""

    def when(self, item: Hashable) -> float: ...

    def num_requeues(self, item: Hashable) -> int: ...

    def forget(self, item: Hashable) -> None: ...


class ItemExponentialFailureRateLimiter:
    """base · 2^(failures so far), capped at `max_delay`; per item."""

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        if base_delay <= 0 or max_delay < base_delay:
            raise ValueError(
                f"base_delay must be > 0 and max_delay >= base_delay, got base_delay={base_delay} "
                f"max_delay={max_delay}"
            )
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp >= 64:  # 2**64 · base is past any cap; avoid float overflow
            return self.max_delay
        return min(self.base_delay * 2.0**exp, self.max_delay)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)


class BucketRateLimiter:
    """A token bucket of `burst` tokens refilled at `qps`; shared by all items."""

    def __init__(self, qps: float = 10.0, burst: int = 100, *, clock: Clock | None = None) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError(f"qps must be > 0 and burst >= 1, got qps={qps} burst={burst}")
        self.qps = qps
        self.burst = burst
        self._clock: Clock = clock or SystemClock()
        self._tokens = float(burst)
        self._last: float | None = None

    def when(self, item: Hashable) -> float:
        now = self._clock.monotonic()
        if self._last is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def num_requeues(self, item: Hashable) -> int:
        return 0

    def forget(self, item: Hashable) -> None:
        return None


class MaxOfRateLimiter:
    """The longest wait any of `limiters` asks for."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter, got none")
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)


def default_controller_rate_limiter(clock: Clock | None = None) -> MaxOfRateLimiter:
    """controller-runtime's default: max(per-item 5 ms·2^n ≤ 1000 s, bucket 10 qps burst 100)."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(0.005, 1000.0),
        BucketRateLimiter(10.0, 100, clock=clock),
    )
