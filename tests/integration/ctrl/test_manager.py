"""Managers over real HTTP against kaito.sim: leader hand-over, mutual exclusion, retries with backoff."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from kaito.ctrl.builder import ControllerBuilder
from kaito.ctrl.client import GVK, Client
from kaito.ctrl.leader import LeaderElectionConfig
from kaito.ctrl.manager import Manager
from kaito.ctrl.ratelimiter import ItemExponentialFailureRateLimiter
from kaito.ctrl.reconcile import ReconcilerFunc, Request, Result
from kaito.sim.cluster import Cluster

pytestmark = pytest.mark.integration

CM = GVK("v1", "ConfigMap")
LEASE = 3.0  # short lease so hand-over is observable quickly: lease 3 s, renew 2 s, retry 0.5 s


def elected_manager(client: Client, identity: str, reconcile: Any, **options: Any) -> Manager:
    election = LeaderElectionConfig(
        "ctrl-it", "default", identity, lease_duration=LEASE, renew_deadline=2.0, retry_period=0.5, **options
    )
    manager = Manager(client, registry=CollectorRegistry(), leader_election=election, probe_port=None)
    ControllerBuilder(manager).for_(CM, namespace="default").complete(ReconcilerFunc(reconcile))
    return manager


@pytest.mark.parametrize("release_on_cancel", [True, False], ids=["graceful-release", "leader-vanishes"])
async def test_hand_over_within_lease_duration_and_never_two_reconciling(
    cluster: Cluster, make_configmap: Any, eventually: Any, release_on_cancel: bool
) -> None:
    active: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    counts = {"one": 0, "two": 0}

    def reconciler(identity: str) -> Any:
        async def reconcile(request: Request) -> Result:
            if active:
                overlaps.append((*active, identity))
            active.append(identity)
            counts[identity] += 1
            await asyncio.sleep(0.01)
            active.remove(identity)
            return Result(requeue_after=0.05)

        return reconcile

    clients = [await Client.from_kubeconfig(str(cluster.kubeconfig)) for _ in range(2)]
    try:
        await clients[0].create(make_configmap("a"))
        managers = {
            name: elected_manager(c, name, reconciler(name), release_on_cancel=release_on_cancel)
            for name, c in zip(("one", "two"), clients, strict=True)
        }
        runs = {name: asyncio.create_task(m.run()) for name, m in managers.items()}
        await eventually(lambda: sum(counts.values()) >= 5)
        leader = next(n for n, m in managers.items() if m.is_leader)
        follower = "two" if leader == "one" else "one"
        assert counts[follower] == 0
        managers[leader].stop()
        await asyncio.wait_for(runs[leader], 10)
        stopped = asyncio.get_running_loop().time()
        await eventually(lambda: counts[follower] > 0, within=LEASE + 5)
        took = asyncio.get_running_loop().time() - stopped
        bound = 1.5 if release_on_cancel else LEASE + 2 * 0.5 * 2.2 + 0.5
        assert took <= bound, f"follower took over after {took:.2f}s (bound {bound}s)"
        assert overlaps == [], "two managers reconciled at the same time"
        managers[follower].stop()
        await asyncio.wait_for(runs[follower], 10)
    finally:
        for c in clients:
            await c.close()


async def test_raising_reconcile_is_retried_with_backoff_and_the_worker_survives(
    client: Client, make_configmap: Any, eventually: Any
) -> None:
    attempts: dict[str, list[float]] = {"flaky": [], "healthy": []}
    loop = asyncio.get_running_loop()

    async def reconcile(request: Request) -> Result:
        attempts[request.name].append(loop.time())
        if request.name == "flaky" and len(attempts["flaky"]) < 5:
            raise RuntimeError("not yet")
        return Result()

    manager = Manager(client, registry=CollectorRegistry(), probe_port=None)
    backoff = ItemExponentialFailureRateLimiter(0.05, 10.0)  # 50, 100, 200, 400 ms: well above timer noise
    (
        ControllerBuilder(manager)
        .for_(CM, namespace="default")
        .with_options(rate_limiter=backoff)
        .complete(ReconcilerFunc(reconcile))
    )
    run = asyncio.create_task(manager.run())
    await client.create(make_configmap("flaky"))
    await eventually(lambda: len(attempts["flaky"]) == 5)
    times = attempts["flaky"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(later >= earlier * 1.5 for earlier, later in itertools.pairwise(gaps)), gaps
    await client.create(make_configmap("healthy"))
    await eventually(lambda: len(attempts["healthy"]) == 1)
    errors = manager.registry.get_sample_value(
        "controller_runtime_reconcile_errors_total", {"controller": "configmap"}
    )
    assert errors == 4
    manager.stop()
    await asyncio.wait_for(run, 10)
