"""Leader election on a Lease: acquire, renew, hand over on expiry or release, lose on failed renewals."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from kaito.ctrl.client import Client
from kaito.ctrl.errors import LeaderElectionLost
from kaito.ctrl.leader import LeaderElectionConfig, LeaderElector
from kaito.ctrl.testing import FakeClock, MockResponse


def elector(client: Client, clock: FakeClock, identity: str) -> LeaderElector:
    return LeaderElector(client, LeaderElectionConfig("lock", "default", identity), clock=clock)


def lease(fake_api: Any) -> dict[str, Any]:
    return fake_api.objects[("leases", "default", "lock")]["spec"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lease_duration": 10, "renew_deadline": 10}, "lease_duration"),
        ({"renew_deadline": 2.4, "retry_period": 2}, "renew_deadline"),
        ({"retry_period": 0}, "retry_period must be > 0"),
        ({"identity": ""}, "identity"),
    ],
)
def test_config_is_validated(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LeaderElectionConfig(**{"name": "l", "namespace": "n", "identity": "me", **kwargs})


async def test_defaults_are_client_go_s() -> None:
    cfg = LeaderElectionConfig("l", "n", "me")
    assert (cfg.lease_duration, cfg.renew_deadline, cfg.retry_period) == (15.0, 10.0, 2.0)


async def test_follower_takes_over_only_after_the_lease_stops_changing(
    client: Client, clock: FakeClock, fake_api: Any
) -> None:
    a, b = elector(client, clock, "a"), elector(client, clock, "b")
    await a.acquire()
    assert lease(fake_api)["holderIdentity"] == "a" and lease(fake_api)["leaseTransitions"] == 0
    renewing = asyncio.create_task(a.keep_renewing())
    b_acquire = asyncio.create_task(b.acquire())
    await clock.advance(60)
    assert not b_acquire.done(), "a live leader keeps the lease"
    renewing.cancel()  # a dies without releasing
    with contextlib.suppress(asyncio.CancelledError):
        await renewing
    died = clock.monotonic()
    while not b_acquire.done():
        await clock.advance(0.5)
    took = clock.monotonic() - died
    # The follower first sees a's last renewal up to one jittered retry (<= 4.4 s) late, then polls again
    # up to 4.4 s after the 15 s lease expires from its point of view.
    assert 15 <= took <= 15 + 2 * 4.4 + 0.5, f"took over after {took}s"
    assert lease(fake_api)["holderIdentity"] == "b" and lease(fake_api)["leaseTransitions"] == 1


async def test_release_hands_over_at_once(client: Client, clock: FakeClock, fake_api: Any) -> None:
    a, b = elector(client, clock, "a"), elector(client, clock, "b")
    await a.acquire()
    b_acquire = asyncio.create_task(b.acquire())
    await clock.advance(3)
    assert await a.release()
    assert not await a.release(), "releasing twice is a no-op"
    released = clock.monotonic()
    while not b_acquire.done():
        await clock.advance(0.25)
    assert clock.monotonic() - released <= 2 * 2.2 + 0.5
    assert b.is_leader and not a.is_leader


async def test_renewal_keeps_acquire_time_and_refreshes_renew_time(
    client: Client, clock: FakeClock, fake_api: Any
) -> None:
    a = elector(client, clock, "a")
    await a.acquire()
    first = dict(lease(fake_api))
    renewing = asyncio.create_task(a.keep_renewing())
    await clock.advance(5)
    assert lease(fake_api)["acquireTime"] == first["acquireTime"]
    assert lease(fake_api)["renewTime"] > first["renewTime"]
    renewing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await renewing


async def test_leadership_is_lost_when_renewals_fail_past_the_deadline(
    client: Client, clock: FakeClock, fake_api: Any
) -> None:
    a = elector(client, clock, "a")
    await a.acquire()
    renewing = asyncio.create_task(a.keep_renewing())
    await clock.advance(4)
    outage = clock.monotonic()
    error = MockResponse(
        503, json={"kind": "Status", "code": 503, "reason": "ServiceUnavailable", "message": "down"}
    )
    fake_api.fail_next(*[error] * 1000)
    while not renewing.done():
        await clock.advance(0.5)
    with pytest.raises(LeaderElectionLost, match="not renewed within 10s"):
        await renewing
    assert clock.monotonic() - outage <= 2 + 10 + 1
    assert not a.is_leader


async def test_racing_candidates_on_an_expired_lease_cannot_both_win(
    client: Client, clock: FakeClock, fake_api: Any
) -> None:
    old = elector(client, clock, "old")
    await old.acquire()
    b, c = elector(client, clock, "b"), elector(client, clock, "c")
    await b.try_acquire_or_renew()
    await c.try_acquire_or_renew()  # both observe the record now
    await clock.advance(16)
    results = await asyncio.gather(b.try_acquire_or_renew(), c.try_acquire_or_renew())
    assert sorted(results) == [False, True]
    assert lease(fake_api)["holderIdentity"] in ("b", "c")
