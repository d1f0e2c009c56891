"""The Machine reconciler, one reconcile at a time, without sockets and in fake time.

`StoreApi` answers kaito.ctrl's `MockTransport` from a `kaito.sim` Store in the same process: discovery,
get/list/create/update (status too)/patch/delete, with the store's real semantics (CRD schema validation,
resourceVersion conflicts, finalizers and deletionTimestamp). No watch: unit tests call `reconcile()`
themselves and fill the Node cache by hand. `FakeProvisioner` is a cloud in a dict whose next answers
the test scripts. The clock is a FakeClock shared with the store, so creation times and the launch timeout
agree without sleeping.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from kaito import ctrl
from kaito.api import names
from kaito.api.conditions import find_condition
from kaito.api.crd import MACHINE_CRD, custom_resource_definition
from kaito.api.machine import Machine, MachineSpec
from kaito.api.meta import ObjectMeta
from kaito.controllers.machine import MACHINE, NODE, MachineControllerOptions, MachineReconciler
from kaito.ctrl.events import EVENT
from kaito.ctrl.informer import SharedInformerFactory
from kaito.ctrl.testing import FakeClock, MockResponse, MockTransport
from kaito.provisioners.base import (
    ObservedState,
    OwnedResource,
    Provisioner,
    ProvisionerError,
    ProvisionerRegistry,
    QuotaError,
    RetryableError,
    ThrottledError,
)
from kaito.sim.server.discovery import api_resource_list
from kaito.sim.server.errors import ApiError as SimApiError
from kaito.sim.server.store import Store


class StoreApi:
    """kaito.ctrl's transport boundary answered straight from a kaito.sim Store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.transport = MockTransport(self.handle)

    def writes(self, method: str, path_part: str = "") -> int:
        return sum(1 for r in self.transport.requests if r.method == method and path_part in r.path)

    def handle(self, request: ctrl.HttpRequest) -> MockResponse:
        parts = request.path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            return self._json(api_resource_list(self.store.registry, "", parts[1]))
        if parts[0] == "apis" and len(parts) == 3:
            return self._json(api_resource_list(self.store.registry, parts[1], parts[2]))
        group, _, rest = ("", parts[1], parts[2:]) if parts[0] == "api" else (parts[1], parts[2], parts[3:])
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural, name, sub = rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None
        rt = self.store.type_for(group, plural)
        if rt is None:
            return self._json(None)
        api_version, kind = rt.api_version, rt.kind
        body = request.body
        try:
            if request.method == "GET" and name:
                return self._json(self.store.get(api_version, kind, name, namespace))
            if request.method == "GET":
                items, rv = self.store.list(api_version, kind, namespace)
                return self._json({"items": items, "metadata": {"resourceVersion": rv}})
            if request.method == "POST":
                return self._json(self.store.create(api_version, kind, body, namespace=namespace), 201)
            if request.method == "PUT":
                return self._json(
                    self.store.update(api_version, kind, body, subresource=sub, namespace=namespace)
                )
            if request.method == "PATCH":
                content_type = request.headers.get("Content-Type", ctrl.PatchType.MERGE)
                patched = self.store.patch(
                    api_version, kind, name or "", body, content_type, namespace, subresource=sub
                )
                return self._json(patched)
            if request.method == "DELETE":
                return self._json(self.store.delete(api_version, kind, name or "", namespace))
        except SimApiError as exc:
            return MockResponse(exc.code, json=exc.to_status())
        return MockResponse(405, json={"kind": "Status", "code": 405, "reason": "MethodNotAllowed"})

    @staticmethod
    def _json(doc: Any, status: int = 200) -> MockResponse:
        if doc is None:
            return MockResponse(
                404, json={"kind": "Status", "code": 404, "reason": "NotFound", "message": "no"}
            )
        return MockResponse(status, json=json.loads(json.dumps(doc)))


class FakeProvisioner(Provisioner):
    """A cloud in a dict: `state[name]` is what `get` answers; `fail_*` script the next errors."""

    name = names.PROVISIONER_AKS

    def __init__(self) -> None:
        self.state: dict[str, ObservedState] = {}
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.fail_get: list[ProvisionerError] = []
        self.fail_create: list[ProvisionerError] = []
        self.on_create = ObservedState.provisioning("fake VM", "creating")

    async def create(self, machine: Machine) -> ObservedState:
        name = machine.metadata.name or ""
        if self.fail_create:
            raise self.fail_create.pop(0)
        self.created.append(name)
        self.state.setdefault(name, self.on_create)
        return self.state[name]

    async def get(self, machine: Machine) -> ObservedState:
        if self.fail_get:
            raise self.fail_get.pop(0)
        return self.state.get(machine.metadata.name or "", ObservedState.gone("fake VM"))

    async def delete(self, machine: Machine) -> None:
        name = machine.metadata.name or ""
        self.deleted.append(name)
        if name in self.state:
            self.state[name] = ObservedState.deleting("fake VM")

    def matches(self, node: Mapping[str, Any], machine: Machine) -> bool:
        labels = (node.get("metadata") or {}).get("labels") or {}
        return labels.get(names.LABEL_MACHINE) == machine.metadata.name

    async def list(self) -> Sequence[OwnedResource]:
        return [OwnedResource(name=n, machine=n) for n, s in self.state.items() if s.exists]

    async def delete_owned(self, owned: OwnedResource) -> None:
        if owned.name in self.state:
            self.state[owned.name] = ObservedState.deleting("fake VM")

    def finish_deleting(self, name: str) -> None:
        self.state.pop(name, None)

    def launch(self, name: str) -> None:
        self.state[name] = ObservedState.running("fake VM", provider_id=f"fake:///{name}")


START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OPTIONS = MachineControllerOptions(launch_timeout=1800.0, poll_interval=10.0, retry_interval=5.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def store(clock: FakeClock) -> Store:
    store = Store(clock=clock.now)
    store.create(
        "apiextensions.k8s.io/v1", "CustomResourceDefinition", custom_resource_definition(MACHINE_CRD)
    )
    return store


@pytest.fixture
def api(store: Store) -> StoreApi:
    return StoreApi(store)


@pytest.fixture
def client(api: StoreApi) -> Iterator[ctrl.Client]:
    yield ctrl.Client(api.transport, retry=ctrl.RetryPolicy(attempts=1))


@pytest.fixture
def fake_provisioner() -> FakeProvisioner:
    return FakeProvisioner()


class World:
    """The reconciler under test and everything around it."""

    def __init__(
        self, client: ctrl.Client, api: StoreApi, provisioner: FakeProvisioner, clock: FakeClock
    ) -> None:
        self.client, self.api, self.provisioner, self.clock = client, api, provisioner, clock
        informers = SharedInformerFactory(client)
        node_cache = informers.informer_for(NODE)
        node_cache.replace([], "1")  # synced and empty: the test adds Nodes to the cache by hand
        self.nodes = node_cache.store
        self.reconciler = MachineReconciler(
            ctrl.CachedClient(client, informers),
            ProvisionerRegistry([provisioner]),
            ctrl.EventRecorder(client, "kaito-machine-controller", clock=clock),
            clock=clock,
            options=OPTIONS,
        )

    async def reconcile(self, name: str = "m1") -> ctrl.Result:
        """One reconcile with the Machine as the API server holds it now (what the cache converges to)."""
        try:
            machine: Machine | None = await self.client.get(Machine, name)
        except ctrl.NotFound:
            machine = None
        return await self.reconciler.reconcile(ctrl.Request("", name), machine)

    async def machine(self, name: str = "m1") -> Machine:
        return Machine.model_validate(await self.client.get(MACHINE, name))

    async def condition(self, kind: str, name: str = "m1") -> tuple[str, str] | None:
        machine = await self.machine(name)
        found = find_condition(machine.status.conditions if machine.status else None, kind)
        return (found.status, found.reason) if found else None

    async def events(self) -> list[tuple[str, str]]:
        items = (await self.client.list(EVENT, "default")).items
        return [(e["type"], e["reason"]) for e in items]

    def add_node(
        self, name: str = "node-1", *, ready: bool, gpus: str = "1", taints: list[Any] | None = None
    ) -> None:
        self.nodes.upsert(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": {names.LABEL_MACHINE: "m1"}},
                "spec": {"providerID": "fake:///m1", "taints": taints or []},
                "status": {
                    "conditions": [
                        {"type": "Ready", "status": "True" if ready else "False", "message": "booting"}
                    ],
                    "capacity": {"nvidia.com/gpu": gpus, "cpu": "24"},
                    "allocatable": {"nvidia.com/gpu": gpus, "cpu": "23"},
                },
            }
        )


@pytest.fixture
async def world(
    client: ctrl.Client, api: StoreApi, fake_provisioner: FakeProvisioner, clock: FakeClock
) -> World:
    world = World(client, api, fake_provisioner, clock)
    machine = Machine(
        metadata=ObjectMeta(name="m1"), spec=MachineSpec(instance_type="Standard_NC24ads_A100_v4")
    )
    await client.create(machine)
    return world


async def test_the_first_reconcile_adds_the_finalizer_requests_the_node_and_says_launching(
    world: World,
) -> None:
    result = await world.reconcile()

    assert world.provisioner.created == ["m1"]
    machine = await world.machine()
    assert machine.metadata.finalizers == [names.FINALIZER_MACHINE_CLEANUP]
    assert await world.condition("Launched") == ("Unknown", "Launching")
    assert await world.condition("Ready") == ("Unknown", "Launching")
    assert result.requeue_after == OPTIONS.poll_interval
    assert await world.events() == []  # the status says Launching; the Workspace's Event names the Machine


async def test_launch_registration_and_initialization_make_the_machine_ready_in_order(world: World) -> None:
    await world.reconcile()
    world.provisioner.launch("m1")
    await world.reconcile()
    assert await world.condition("Launched") == ("True", "Launched")
    assert await world.condition("Registered") == ("Unknown", "AwaitingRegistration")

    world.add_node(ready=False)
    await world.reconcile()
    assert await world.condition("Registered") == ("True", "Registered")
    assert await world.condition("Initialized") == ("Unknown", "NodeNotReady")
    assert await world.condition("Ready") == ("Unknown", "NodeNotReady")

    world.add_node(ready=True)
    result = await world.reconcile()
    machine = await world.machine()
    assert machine.status is not None
    assert (machine.status.node_name, machine.status.provider_id) == ("node-1", "fake:///m1")
    assert machine.status.allocatable == {"nvidia.com/gpu": "1", "cpu": "23"}
    assert await world.condition("Ready") == ("True", "Ready")
    assert result == ctrl.Result()
    assert await world.events() == []  # a Machine that comes up without trouble records no Event


async def test_a_reconcile_that_changes_nothing_writes_nothing(world: World) -> None:
    await world.reconcile()
    world.provisioner.launch("m1")
    world.add_node(ready=True)
    await world.reconcile()
    status_writes, events = world.api.writes("PUT", "/status"), await world.events()

    await world.clock.advance(60)
    await world.reconcile()
    await world.reconcile()
    assert world.api.writes("PUT", "/status") == status_writes
    assert await world.events() == events


async def test_a_node_losing_its_gpus_or_gaining_a_startup_taint_takes_the_machine_out_of_ready(
    world: World,
) -> None:
    await world.reconcile()
    world.provisioner.launch("m1")
    world.add_node(ready=True)
    await world.reconcile()
    world.add_node(ready=True, gpus="0")
    await world.reconcile()
    assert await world.condition("Ready") == ("Unknown", "GPUsNotAllocatable")
    world.add_node(ready=True, taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}])
    await world.reconcile()
    assert await world.condition("Initialized") == ("Unknown", "StartupTaintsPresent")
    world.nodes.delete("node-1")
    await world.reconcile()
    assert await world.condition("Registered") == ("False", "NodeNotFound")
    assert ("Warning", "NodeNotFound") in await world.events()


@pytest.mark.parametrize(
    ("error", "delay"),
    [
        (ThrottledError("TooManyRequests", "Slow down.", retry_after=7.0), 7.0),
        (RetryableError("ServiceUnavailable", "Try again."), OPTIONS.retry_interval),
        # Retry-After 0 must still requeue: requeue_after=0 would mean "do not requeue"
        (ThrottledError("TooManyRequests", "Slow down.", retry_after=0.0), OPTIONS.retry_interval),
    ],
)
async def test_retryable_cloud_errors_requeue_after_the_clouds_wait_with_a_warning(
    world: World, error: RetryableError, delay: float
) -> None:
    world.provisioner.fail_get.append(error)
    result = await world.reconcile()
    assert result.requeue_after == delay
    assert ("Warning", error.reason) in await world.events()
    machine = await world.machine()
    assert machine.status is None or not machine.status.failed


async def test_a_quota_refusal_fails_the_machine_with_the_clouds_message(world: World) -> None:
    world.provisioner.fail_create.append(QuotaError("QuotaExceeded", "Family Cores quota exceeded: 0 of 24."))
    result = await world.reconcile()

    machine = await world.machine()
    assert machine.status is not None
    assert (machine.status.failure_reason, machine.status.failure_message) == (
        "QuotaExceeded",
        "Family Cores quota exceeded: 0 of 24.",
    )
    assert await world.condition("Launched") == ("False", "QuotaExceeded")
    assert ("Warning", "QuotaExceeded") in await world.events()
    assert result.requeue_after is None
    # failed for good: later reconciles neither create nor write
    writes = world.api.writes("PUT", "/status")
    await world.reconcile()
    assert world.provisioner.created == [] and world.api.writes("PUT", "/status") == writes


async def test_a_machine_not_launched_within_the_timeout_fails_and_its_resource_is_deleted(
    world: World,
) -> None:
    await world.reconcile()
    await world.clock.advance(OPTIONS.launch_timeout - 1)
    assert (await world.reconcile()).requeue_after == pytest.approx(1.0)
    await world.clock.advance(2)

    result = await world.reconcile()
    machine = await world.machine()
    assert machine.status is not None and machine.status.failure_reason == "LaunchTimeout"
    assert "30m0s" in (machine.status.failure_message or "")
    assert world.provisioner.deleted == ["m1"]
    assert result.requeue_after == OPTIONS.poll_interval

    assert (await world.reconcile()).requeue_after == OPTIONS.poll_interval  # still deleting: look again
    world.provisioner.finish_deleting("m1")
    assert await world.reconcile() == ctrl.Result()
    assert world.provisioner.deleted == ["m1"]


async def test_a_resource_that_vanishes_after_it_was_requested_fails_the_machine(world: World) -> None:
    await world.reconcile()
    world.provisioner.finish_deleting("m1")  # somebody else removed it
    await world.reconcile()
    machine = await world.machine()
    assert machine.status is not None and machine.status.failure_reason == "CloudResourceGone"
    assert world.provisioner.created == ["m1"]


async def test_a_transient_provisioning_failure_deletes_the_wreck_without_failing_the_machine(
    world: World,
) -> None:
    await world.reconcile()
    world.provisioner.state["m1"] = ObservedState.failed("InternalOperationError", "oops", retryable=True)
    await world.reconcile()
    machine = await world.machine()
    assert machine.status is not None and not machine.status.failed
    assert world.provisioner.deleted == ["m1"]


async def test_deleting_a_machine_deletes_its_resource_waits_for_it_then_drops_the_finalizer(
    world: World,
) -> None:
    await world.reconcile()
    world.provisioner.launch("m1")
    await world.reconcile()
    await world.client.delete(MACHINE, "m1")

    assert (await world.reconcile()).requeue_after == OPTIONS.poll_interval
    assert (await world.reconcile()).requeue_after == OPTIONS.poll_interval
    assert world.provisioner.deleted == ["m1"]  # one delete, then waiting
    assert (await world.machine()).metadata.deletion_timestamp is not None

    world.provisioner.finish_deleting("m1")
    assert await world.reconcile() == ctrl.Result()
    with pytest.raises(ctrl.NotFound):
        await world.machine()
    assert ("Normal", "Deleted") in await world.events()


async def test_a_machine_naming_an_unknown_provisioner_fails_with_a_sentence(
    world: World, client: ctrl.Client
) -> None:
    spec = MachineSpec(instance_type="Standard_NC24ads_A100_v4", provisioner="karpenter")
    await client.create(Machine(metadata=ObjectMeta(name="m2"), spec=spec))
    await world.reconcile("m2")
    machine = await world.machine("m2")
    assert machine.status is not None and machine.status.failure_reason == "UnknownProvisioner"
    assert "spec.provisioner is 'karpenter'" in (machine.status.failure_message or "")
    assert world.provisioner.created == []


async def test_a_missing_machine_is_nothing_to_do(world: World) -> None:
    assert await world.reconcile("nope") == ctrl.Result()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"launch_timeout": 0}, "launch_timeout"),
        ({"poll_interval": -1}, "poll_interval"),
        ({"max_concurrent_reconciles": 0}, "max_concurrent_reconciles"),
    ],
)
def test_options_refuse_nonsense(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MachineControllerOptions(**options)


async def test_a_cache_that_has_not_seen_our_own_write_yet_causes_no_conflict_and_no_second_create(
    world: World,
) -> None:
    stale = await world.machine()  # what the cache still holds after the first reconcile's writes
    await world.reconciler.reconcile(ctrl.Request("", "m1"), stale)
    world.provisioner.launch("m1")
    result = await world.reconciler.reconcile(ctrl.Request("", "m1"), stale)

    assert result != ctrl.Result(requeue=True)  # no Conflict from writing over the stale copy
    assert world.provisioner.created == ["m1"]
    assert await world.condition("Launched") == ("True", "Launched")
