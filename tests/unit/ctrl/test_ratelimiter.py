"""Rate limiters: per-item exponential backoff, token bucket and controller-runtime's default."""

from __future__ import annotations

import pytest

from kaito.ctrl.ratelimiter import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    default_controller_rate_limiter,
)
from kaito.ctrl.testing import FakeClock


def test_exponential_per_item_doubles_caps_and_forgets() -> None:
    limiter = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    waits = [limiter.when("a") for _ in range(20)]
    assert waits[:4] == [0.005, 0.01, 0.02, 0.04]
    assert waits[-1] == 1000.0
    assert limiter.when("b") == 0.005, "items back off independently"
    assert limiter.num_requeues("a") == 20
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 0.005


def test_exponential_survives_huge_failure_counts() -> None:
    limiter = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    for _ in range(2000):
        wait = limiter.when("a")
    assert wait == 1000.0


@pytest.mark.parametrize(("base", "cap"), [(0, 1), (-1, 1), (2, 1)])
def test_exponential_rejects_bad_settings(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="base_delay"):
        ItemExponentialFailureRateLimiter(base, cap)


async def test_bucket_allows_burst_then_spaces_at_qps(clock: FakeClock) -> None:
    bucket = BucketRateLimiter(10.0, 100, clock=clock)
    assert [bucket.when(i) for i in range(100)] == [0.0] * 100
    assert bucket.when("x") == pytest.approx(0.1)
    assert bucket.when("y") == pytest.approx(0.2)
    await clock.advance(10)
    assert bucket.when("z") == 0.0, "the bucket refills over time"


def test_default_controller_limiter_is_the_max_of_both(clock: FakeClock) -> None:
    limiter = default_controller_rate_limiter(clock)
    assert limiter.when("a") == 0.005
    assert limiter.when("a") == 0.01
    for i in range(200):
        limiter.when(f"other-{i}")
    assert limiter.when("fresh") > 0.005, "an exhausted bucket dominates a fresh item's backoff"
    assert limiter.num_requeues("a") == 2
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


def test_max_of_needs_a_limiter() -> None:
    with pytest.raises(ValueError, match="at least one"):
        MaxOfRateLimiter()
