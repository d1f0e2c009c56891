"""ControllerBuilder: wiring mistakes fail early with sentences; owns() enqueues the owner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from kaito.ctrl.builder import BuilderError, ControllerBuilder
from kaito.ctrl.client import GVK, Client
from kaito.ctrl.manager import Manager
from kaito.ctrl.reconcile import ReconcilerFunc, Request, Result
from kaito.ctrl.testing import FakeClock

DEPLOY = GVK("apps/v1", "Deployment")
CM = GVK("v1", "ConfigMap")


async def noop(request: Request) -> Result:
    return Result()


@pytest.fixture
def mgr(client: Client, clock: FakeClock) -> Manager:
    return Manager(client, clock=clock, registry=CollectorRegistry(), probe_port=None)


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (lambda b: b.owns(CM), r"owns\(\) needs for_\(\)"),
        (lambda b: b.for_(DEPLOY).for_(CM), r"for_\(\) was called twice"),
        (lambda b: b, "the controller watches nothing"),
        (lambda b: b.watches(CM, lambda o: []), "needs a name"),
        (lambda b: b.for_(DEPLOY).with_options(max_concurrent_reconciles=0), "at least 1, got 0"),
    ],
)
def test_wiring_mistakes_are_sentences(
    mgr: Manager, wire: Callable[[ControllerBuilder], Any], message: str
) -> None:
    with pytest.raises(BuilderError, match=message):
        wire(ControllerBuilder(mgr)).complete(ReconcilerFunc(noop))


def test_names_are_unique_and_informers_shared(mgr: Manager) -> None:
    first = ControllerBuilder(mgr).for_(DEPLOY).owns(CM).complete(ReconcilerFunc(noop))
    assert first.name == "deployment"
    with pytest.raises(BuilderError, match="'deployment' is already registered"):
        ControllerBuilder(mgr).for_(DEPLOY).complete(ReconcilerFunc(noop))
    second = ControllerBuilder(mgr).named("cm-watcher").for_(CM).complete(ReconcilerFunc(noop))
    assert second.name == "cm-watcher"
    assert len(mgr.informers.informers) == 2, "one informer per kind, shared"


async def test_owned_and_mapped_objects_enqueue_the_right_requests(
    mgr: Manager, clock: FakeClock, fake_api: Any, make_configmap: Any
) -> None:
    seen: list[Request] = []

    async def record(request: Request) -> Result:
        seen.append(request)
        return Result()

    (
        ControllerBuilder(mgr)
        .for_(DEPLOY)
        .owns(CM)
        .watches(GVK("v1", "Namespace"), lambda o: [Request("default", "from-" + o["metadata"]["name"])])
        .with_options(max_concurrent_reconciles=2)
        .complete(ReconcilerFunc(record))
    )
    owned = make_configmap("cm")
    owned["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u", "controller": True}
    ]
    fake_api.put("configmaps", owned)
    fake_api.put("configmaps", make_configmap("orphan"))
    fake_api.put("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    run = asyncio.create_task(mgr.run())
    for _ in range(50):
        await clock.advance(0.1)
        if len(seen) >= 2:
            break
    mgr.stop()
    await asyncio.wait_for(run, 5)
    assert sorted(seen) == [Request("default", "from-team"), Request("default", "web")]
