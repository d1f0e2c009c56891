"""Manager: start order, readiness, leader election hand-over, lease loss, shutdown deadline, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from kaito.ctrl.builder import ControllerBuilder
from kaito.ctrl.client import GVK, Client
from kaito.ctrl.controller import CacheSyncTimeout
from kaito.ctrl.errors import LeaderElectionLost
from kaito.ctrl.leader import LeaderElectionConfig
from kaito.ctrl.manager import Manager, run_until_stopped
from kaito.ctrl.reconcile import ReconcilerFunc, Request, Result
from kaito.ctrl.testing import FakeClock, MockResponse

CM = GVK("v1", "ConfigMap")


async def eventually(
    clock: FakeClock, condition: Callable[[], bool], *, step: float = 0.1, steps: int = 600
) -> None:
    for _ in range(steps):
        if condition():
            return
        await clock.advance(step)
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


async def finish(clock: FakeClock, run: asyncio.Task[Any]) -> Any:
    """Let `run` end while fake time keeps moving (workers may be sleeping on the fake clock)."""
    await eventually(clock, run.done)
    return run.result()


def manager(client: Client, clock: FakeClock, identity: str | None = None, **kw: Any) -> Manager:
    election = LeaderElectionConfig("mgr", "default", identity) if identity else None
    return Manager(client, clock=clock, registry=CollectorRegistry(), leader_election=election, **kw)


async def test_runs_controllers_after_sync_and_serves_probes(
    client: Client, clock: FakeClock, fake_api: Any, make_configmap: Any
) -> None:
    fake_api.put("configmaps", make_configmap("a"))
    seen: list[str] = []

    async def record(request: Request) -> Result:
        seen.append(request.name)
        return Result()

    mgr = manager(client, clock)
    ControllerBuilder(mgr).for_(CM).complete(ReconcilerFunc(record))
    run = asyncio.create_task(mgr.run())
    await eventually(clock, lambda: seen == ["a"])
    assert mgr.probes is not None
    async with aiohttp.ClientSession() as http:
        async with http.get(mgr.probes.url + "/readyz") as r:
            assert r.status == 200
        async with http.get(mgr.probes.url + "/metrics") as r:
            assert (
                'controller_runtime_reconcile_total{controller="configmap",result="success"} 1.0'
                in await r.text()
            )
    mgr.stop()
    await asyncio.wait_for(run, 5)
    assert not mgr.caches_synced


@pytest.mark.parametrize("ready_requires_leadership", [False, True])
async def test_only_the_leader_reconciles_and_a_stopped_leader_hands_over(
    client: Client, clock: FakeClock, fake_api: Any, make_configmap: Any, ready_requires_leadership: bool
) -> None:
    fake_api.put("configmaps", make_configmap("a"))
    active: list[str] = []
    overlaps = 0
    reconciled: dict[str, int] = {"one": 0, "two": 0}

    def reconciler(identity: str) -> ReconcilerFunc:
        async def fn(request: Request) -> Result:
            nonlocal overlaps
            if active:
                overlaps += 1
            active.append(identity)
            reconciled[identity] += 1
            await clock.sleep(0.5)
            active.remove(identity)
            return Result(requeue_after=1)

        return ReconcilerFunc(fn)

    managers = {}
    runs = {}
    for identity in ("one", "two"):
        mgr = manager(
            client, clock, identity, probe_port=None, ready_requires_leadership=ready_requires_leadership
        )
        ControllerBuilder(mgr).for_(CM).complete(reconciler(identity))
        managers[identity], runs[identity] = mgr, asyncio.create_task(mgr.run())
        await eventually(clock, lambda m=mgr: m.caches_synced)  # type: ignore[misc]
    await eventually(clock, lambda: sum(reconciled.values()) >= 3)
    leader = "one" if managers["one"].is_leader else "two"
    follower = "two" if leader == "one" else "one"
    assert reconciled[follower] == 0
    assert await managers[leader].ready()
    # a warm standby is Ready by default (so rolling updates of the Deployment can proceed), not when the
    # manager is asked to keep standbys out of Service endpoints
    assert await managers[follower].ready() is not ready_requires_leadership
    managers[leader].stop()
    await finish(clock, runs[leader])
    stopped = clock.monotonic()
    await eventually(clock, lambda: reconciled[follower] > 0)
    assert clock.monotonic() - stopped < 15, "a released lease is taken over well within the lease duration"
    assert overlaps == 0
    managers[follower].stop()
    await finish(clock, runs[follower])


async def test_losing_the_lease_stops_controllers_and_fails_run(
    client: Client, clock: FakeClock, fake_api: Any, make_configmap: Any
) -> None:
    fake_api.put("configmaps", make_configmap("a"))
    calls = 0

    async def forever(request: Request) -> Result:
        nonlocal calls
        calls += 1
        return Result(requeue_after=1)

    mgr = manager(client, clock, "solo", probe_port=None)
    ControllerBuilder(mgr).for_(CM).complete(ReconcilerFunc(forever))
    run = asyncio.create_task(run_until_stopped(mgr))
    await eventually(clock, lambda: calls > 0)
    taken = fake_api.objects[("leases", "default", "mgr")]
    taken["spec"]["holderIdentity"] = "intruder"  # someone else now holds the lease
    fake_api.put("leases", taken)
    await eventually(clock, lambda: run.done())
    assert run.result() == 1
    after = calls
    await clock.advance(5)
    assert calls == after, "controllers stop when leadership is lost"


async def test_cache_sync_timeout(client: Client, clock: FakeClock) -> None:
    mgr = manager(client, clock, probe_port=None, cache_sync_timeout=0.05)
    mgr.informers.informer_for(GVK("example.com/v1", "Missing"))
    with pytest.raises(CacheSyncTimeout, match=r"Missing\.example\.com/v1 did not sync within 0\.05s"):
        await mgr.run()


class Stubborn:
    """A runnable that ignores the stop signal."""

    need_leader_election = False

    def __init__(self) -> None:
        self.cancelled = False

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_graceful_shutdown_deadline_cancels_stragglers(client: Client, clock: FakeClock) -> None:
    mgr = manager(client, clock, probe_port=None, graceful_shutdown_timeout=0.05)
    stubborn = Stubborn()
    mgr.add(stubborn)
    run = asyncio.create_task(mgr.run())
    await eventually(clock, lambda: mgr.caches_synced)
    await clock.settle()
    mgr.stop()
    await asyncio.wait_for(run, 5)
    assert stubborn.cancelled


async def test_sigterm_stops_the_manager_cleanly(client: Client, clock: FakeClock) -> None:
    mgr = manager(client, clock, probe_port=None)
    run = asyncio.create_task(run_until_stopped(mgr))
    await clock.settle()
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(run, 5) == 0


async def test_failing_runnable_fails_run(client: Client, clock: FakeClock) -> None:
    class Broken:
        need_leader_election = False

        async def run(self, stop: asyncio.Event) -> None:
            raise RuntimeError("runnable crashed")

    mgr = manager(client, clock, probe_port=None)
    mgr.add(Broken())
    with pytest.raises(RuntimeError, match="runnable crashed"):
        await mgr.run()


async def test_lease_loss_error_is_leader_election_lost(
    client: Client, clock: FakeClock, fake_api: Any
) -> None:
    mgr = manager(client, clock, "solo", probe_port=None)
    run = asyncio.create_task(mgr.run())
    await eventually(clock, lambda: mgr.is_leader)
    error = MockResponse(500, json={"kind": "Status", "code": 500, "reason": "InternalError", "message": "x"})
    fake_api.fail_next(*[error] * 1000)
    await eventually(clock, lambda: run.done())
    fake_api.failures.clear()
    with pytest.raises(LeaderElectionLost):
        run.result()


async def test_stop_before_the_caches_sync_returns_promptly(client: Client, clock: FakeClock) -> None:
    mgr = manager(client, clock, probe_port=None, cache_sync_timeout=60)
    mgr.informers.informer_for(GVK("example.com/v1", "Missing"))  # never syncs
    run = asyncio.create_task(mgr.run())
    await clock.settle()
    mgr.stop()
    await asyncio.wait_for(run, 5)
    assert not mgr.caches_synced
