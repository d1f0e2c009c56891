"""Backoff: 0.8 s doubling with jitter, capped at 30 s, reset after a healthy period."""

from __future__ import annotations

import random

import pytest

from kaito.ctrl.backoff import Backoff
from kaito.ctrl.testing import FakeClock


async def test_doubles_with_jitter_caps_and_resets(clock: FakeClock) -> None:
    backoff = Backoff(clock, rng=random.Random(1))
    waits = [backoff.next() for _ in range(8)]
    steps = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    for wait, step in zip(waits, steps, strict=True):
        assert step <= wait <= min(2 * step, 30.0)
    await clock.advance(121)
    assert 0.8 <= backoff.next() <= 1.6, "two healthy minutes reset the backoff"
    backoff.reset()
    assert backoff.next() <= 1.6


def test_rejects_nonsense(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="initial > 0"):
        Backoff(clock, initial=0)
