"""Exponential backoff with jitter that resets after a healthy period (client-go's backoff manager).

`next()` returns the wait before the next attempt: the current step times (1 + jitter·random), then the
step doubles up to `cap`. If `reset_after` seconds passed since the previous failure, the step starts over
from `initial` — a watch that ran fine for two minutes and then dropped is retried quickly.
"""

from __future__ import annotations

import random

from kaito.ctrl.clock import Clock

__all__ = ["Backoff"]


class Backoff:
    """0.8 s doubling with jitter, capped at 30 s, reset after 2 min without failures (defaults)."""

    def __init__(
        self,
        clock: Clock,
        *,
        initial: float = 0.8,
        factor: float = 2.0,
        cap: float = 30.0,
        jitter: float = 1.0,
        reset_after: float = 120.0,
        rng: random.Random | None = None,
    ) -> None:
        if initial <= 0 or cap < initial or factor < 1:
            raise ValueError(
                f"backoff needs initial > 0, cap >= initial and factor >= 1; "
                f"got initial={initial} cap={cap} factor={factor}"
            )
        self._clock = clock
        self.initial = initial
        self.factor = factor
        self.cap = cap
        self.jitter = jitter
        self.reset_after = reset_after
        self._rng = rng or random.Random()
        self._step = initial
        self._last_failure: float | None = None

    def next(self) -> float:
        """The wait before the next attempt; each call counts as one more failure."""
        now = self._clock.monotonic()
        if self._last_failure is not None and now - self._last_failure > self.reset_after:
            self._step = self.initial
        self._last_failure = now
        delay = min(self._step, self.cap) * (1.0 + self.jitter * self._rng.random())
        self._step = min(self._step * self.factor, self.cap)
        return min(delay, self.cap)

    def reset(self) -> None:
        self._step = self.initial
        self._last_failure = None
