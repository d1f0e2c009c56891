"""The orphan sweep: which owned cloud resources are collected, when, and what the sweep tells about it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kaito import ctrl
from kaito.api import names
from kaito.api.crd import MACHINE_CRD, custom_resource_definition
from kaito.api.machine import Machine
from kaito.controllers.orphans import OrphanSweeper, OrphanSweepOptions, decide_orphans
from kaito.ctrl.testing import FakeClock, MockResponse, MockTransport
from kaito.provisioners.base import (
    ObservedState,
    OwnedResource,
    Provisioner,
    ProvisionerRegistry,
    RetryableError,
)
from kaito.sim.server.apiserver import paginate
from kaito.sim.server.discovery import api_resource_list
from kaito.sim.server.errors import ApiError as SimApiError
from kaito.sim.server.store import Store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _owned(name: str, machine: str, *, age: float | None = 60.0, deleting: bool = False) -> OwnedResource:
    created = NOW - timedelta(seconds=age) if age is not None else None
    return OwnedResource(name, machine, created=created, deleting=deleting, resource=f"pool {name}")


@pytest.mark.parametrize(
    ("resource", "first_seen_ago", "collected"),
    [
        (_owned("p1", "gone"), None, True),  # old enough, no Machine
        (_owned("p1", "live"), None, False),  # its Machine exists
        (_owned("p1", "gone", age=29.0), None, False),  # younger than the minimum age
        (_owned("p1", "gone", age=30.0), None, True),  # exactly the minimum age
        (_owned("p1", "gone", deleting=True), None, False),  # already being deleted
        (_owned("p1", "gone", age=None), None, False),  # no creation time, never seen: age 0
        (_owned("p1", "gone", age=None), 29.0, False),  # seen 29 s ago
        (_owned("p1", "gone", age=None), 31.0, True),  # seen 31 s ago
        (_owned("p1", "gone", age=-5.0), None, False),  # created "in the future" (clock skew)
    ],
)
def test_decide_orphans(resource: OwnedResource, first_seen_ago: float | None, collected: bool) -> None:
    first_seen = {} if first_seen_ago is None else {"p1": NOW - timedelta(seconds=first_seen_ago)}
    orphans = decide_orphans("aks", [resource], ["live"], now=NOW, min_age=30.0, first_seen=first_seen)
    assert [o.owned for o in orphans] == ([resource] if collected else [])


@pytest.mark.parametrize(("interval", "min_age"), [(0.0, 30.0), (120.0, -1.0)])
def test_options_refuse_nonsense(interval: float, min_age: float) -> None:
    with pytest.raises(ValueError, match="OrphanSweepOptions"):
        OrphanSweepOptions(interval=interval, min_age=min_age)


def test_defaults_are_gpu_provisioners() -> None:
    assert OrphanSweepOptions() == OrphanSweepOptions(interval=120.0, min_age=30.0)


class Cloud(Provisioner):
    """A provisioner whose `list` answers `owned`; `delete_owned` records and marks the resource deleting."""

    def __init__(self, name: str, owned: list[OwnedResource]) -> None:
        self.name = name  # type: ignore[misc]
        self.owned = owned
        self.deleted: list[str] = []
        self.fail_list: Exception | None = None

    async def create(self, machine: Machine) -> ObservedState:
        raise AssertionError("the sweep never creates")

    async def get(self, machine: Machine) -> ObservedState:
        raise AssertionError("the sweep reads only through list")

    async def delete(self, machine: Machine) -> None:
        raise AssertionError("the sweep deletes only through delete_owned")

    def matches(self, node: Any, machine: Machine) -> bool:
        return False

    async def list(self) -> Sequence[OwnedResource]:
        if self.fail_list is not None:
            raise self.fail_list
        return list(self.owned)

    async def delete_owned(self, owned: OwnedResource) -> None:
        self.deleted.append(owned.name)
        self.owned = [
            OwnedResource(o.name, o.machine, o.created, True, o.resource) if o.name == owned.name else o
            for o in self.owned
        ]


def _handler(store: Store) -> MockTransport:
    def handle(request: ctrl.HttpRequest) -> MockResponse:
        parts = request.path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            return MockResponse(200, json=api_resource_list(store.registry, "", parts[1]))
        if parts[0] == "apis" and len(parts) == 3:
            return MockResponse(200, json=api_resource_list(store.registry, parts[1], parts[2]))
        group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
        namespace = rest[1] if rest[0] == "namespaces" else None
        plural = rest[2] if namespace else rest[0]
        rt = store.type_for(group, plural)
        assert rt is not None
        try:
            if request.method == "GET":
                items, rv = store.list(rt.api_version, rt.kind, namespace)
                page = paginate(
                    items,
                    rv,
                    limit=int(request.param("limit") or 0),
                    continue_token=request.param("continue"),
                )
                meta = {"resourceVersion": page.resource_version, "continue": page.continue_token or ""}
                return MockResponse(200, json={"items": page.items, "metadata": meta})
            if request.method == "POST":
                created = store.create(rt.api_version, rt.kind, request.body, namespace=namespace)
                return MockResponse(201, json=created)
        except SimApiError as exc:
            return MockResponse(exc.code, json=exc.to_status())
        return MockResponse(405, json={"kind": "Status", "code": 405, "reason": "MethodNotAllowed"})

    return MockTransport(handle)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def store(clock: FakeClock) -> Store:
    store = Store(clock=clock.now)
    store.create(
        "apiextensions.k8s.io/v1", "CustomResourceDefinition", custom_resource_definition(MACHINE_CRD)
    )
    return store


def _machine(store: Store, name: str, provisioner: str | None = None) -> None:
    spec: dict[str, Any] = {"instanceType": "Standard_NC24ads_A100_v4"}
    if provisioner:
        spec["provisioner"] = provisioner
    store.create(names.API_VERSION, names.KIND_MACHINE, {"metadata": {"name": name}, "spec": spec})


def _sweeper(store: Store, clock: FakeClock, *clouds: Cloud, min_age: float = 30.0) -> OrphanSweeper:
    client = ctrl.Client(_handler(store), retry=ctrl.RetryPolicy(attempts=1))
    return OrphanSweeper(
        client,
        ProvisionerRegistry(clouds, default=clouds[0].name),
        ctrl.EventRecorder(client, "kaito-orphan-sweeper", clock=clock),
        clock=clock,
        options=OrphanSweepOptions(interval=120.0, min_age=min_age),
    )


async def test_a_sweep_deletes_only_what_has_no_machine_of_its_provisioner_and_says_so(
    store: Store, clock: FakeClock
) -> None:
    _machine(store, "live")  # default provisioner: aks
    _machine(store, "claimed", provisioner="karpenter")
    aks = Cloud("aks", [_owned("live", "live"), _owned("gone", "gone"), _owned("claimed", "claimed")])
    karpenter = Cloud("karpenter", [_owned("ws1", "claimed"), _owned("ws2", "live")])
    sweeper = _sweeper(store, clock, aks, karpenter)

    collected = await sweeper.sweep()

    assert sorted(aks.deleted) == ["claimed", "gone"]  # "claimed" now names Karpenter: its pool leaked
    assert karpenter.deleted == ["ws2"]  # "live" is an AKS Machine
    assert {(o.provisioner, o.owned.name) for o in collected} == {
        ("aks", "gone"),
        ("aks", "claimed"),
        ("karpenter", "ws2"),
    }
    events = store.list("v1", "Event", "default")[0]
    gone = next(e for e in events if e["involvedObject"]["name"] == "gone")
    assert gone["reason"] == "OrphanCollected" and gone["type"] == "Normal"
    assert gone["involvedObject"]["kind"] == "Machine"
    assert gone["message"] == (
        "Deleting pool gone: it was made by provisioner aks for Machine gone, which no longer exists "
        "(orphaned for 1m0s, minimum age 30s)."
    )
    assert await sweeper.sweep() == []  # already deleting: not deleted twice


async def test_the_machines_are_read_a_page_at_a_time_and_every_page_counts(
    store: Store, clock: FakeClock
) -> None:
    for i in range(250):
        _machine(store, f"m{i:03d}")
    aks = Cloud("aks", [_owned(f"p{i}", f"m{i:03d}") for i in (0, 99, 100, 249)] + [_owned("x", "gone")])
    sweeper = _sweeper(store, clock, aks)
    assert [o.owned.name for o in await sweeper.sweep()] == ["x"]  # Machines on every page are live
    assert aks.deleted == ["x"]


async def test_a_resource_without_a_creation_time_is_aged_from_when_the_sweep_first_saw_it(
    store: Store, clock: FakeClock
) -> None:
    aks = Cloud("aks", [_owned("p", "gone", age=None)])
    sweeper = _sweeper(store, clock, aks)
    assert await sweeper.sweep() == []
    await clock.advance(29)
    assert await sweeper.sweep() == []
    await clock.advance(1)
    assert [o.owned.name for o in await sweeper.sweep()] == ["p"]


async def test_a_resource_owned_again_is_forgotten(store: Store, clock: FakeClock) -> None:
    aks = Cloud("aks", [_owned("p", "m", age=None)])
    sweeper = _sweeper(store, clock, aks)
    await sweeper.sweep()
    _machine(store, "m")  # a Machine of that name came (back)
    await clock.advance(60)
    assert await sweeper.sweep() == []
    assert sweeper.first_seen == {}


async def test_one_cloud_failing_to_list_does_not_stop_the_sweep_of_another(
    store: Store, clock: FakeClock
) -> None:
    aks = Cloud("aks", [])
    aks.fail_list = RetryableError("ServiceUnavailable", "ARM is down.")
    karpenter = Cloud("karpenter", [_owned("ws1", "gone")])
    assert [o.owned.name for o in await _sweeper(store, clock, aks, karpenter).sweep()] == ["ws1"]


async def _until(condition: Callable[[], bool]) -> None:
    """Let the event loop run (no real time passes) until `condition` holds."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_run_sweeps_at_once_then_every_interval_until_stopped(store: Store, clock: FakeClock) -> None:
    aks = Cloud("aks", [_owned("p1", "gone")])
    sweeper = _sweeper(store, clock, aks)
    stop = asyncio.Event()
    task = asyncio.create_task(sweeper.run(stop))
    await _until(lambda: aks.deleted == ["p1"])
    aks.owned.append(_owned("p2", "gone"))
    await clock.advance(119)
    assert aks.deleted == ["p1"]
    await clock.advance(1)
    await _until(lambda: aks.deleted == ["p1", "p2"])
    stop.set()
    await asyncio.wait_for(task, 1.0)
