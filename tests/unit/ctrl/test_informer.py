"""Reflector and shared informer against FakeApi in fake time: list, watch, resume, relist, handlers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kaito.ctrl.client import GVK, WATCH_GRACE_S, Client
from kaito.ctrl.informer import HandlerFuncs, SharedInformer, SharedInformerFactory, intern_strings
from kaito.ctrl.reflector import Reflector
from kaito.ctrl.testing import FakeClock, MockResponse

CM = GVK("v1", "ConfigMap")


def watch_requests(fake_api: Any) -> list[Any]:
    return [r for r in fake_api.transport.requests if r.param("watch") == "1"]


class HandlerSink:
    """A reflector sink that keeps nothing (the tests of the reflector's own arguments need one)."""

    def replace(self, items: list[Any], resource_version: str) -> None:
        pass

    def apply(self, event_type: str, obj: Any) -> None:
        pass


class Recorder:
    """An EventHandler that writes down what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def on_add(self, obj: Any, initial: bool) -> None:
        self.events.append(("add", obj["metadata"]["name"], "initial" if initial else "live"))

    def on_update(self, old: Any, new: Any) -> None:
        self.events.append(("update", new["metadata"]["name"]))

    def on_delete(self, obj: Any) -> None:
        self.events.append(("delete", obj["metadata"]["name"]))

    def kinds(self, kind: str) -> list[str]:
        return [e[1] for e in self.events if e[0] == kind]


async def eventually(
    clock: FakeClock, condition: Callable[[], bool], *, step: float = 0.1, steps: int = 400
) -> None:
    for _ in range(steps):
        if condition():
            return
        await clock.advance(step)
    raise AssertionError("condition never became true")


@pytest.fixture
async def informer(client: Client, clock: FakeClock) -> AsyncIterator[SharedInformer]:
    inf = SharedInformer(client, CM, clock=clock, page_size=2)
    yield inf
    await inf.stop()


async def start(inf: SharedInformer, clock: FakeClock) -> Recorder:
    recorder = Recorder()
    inf.add_event_handler(recorder)
    inf.start()
    await eventually(clock, lambda: inf.has_synced)
    await clock.settle()
    return recorder


def list_requests(fake_api: Any) -> list[Any]:
    """The ConfigMap LIST requests (not watches) the fake API server has seen, in order."""
    return [
        r for r in fake_api.transport.requests if r.param("watch") is None and r.path.endswith("configmaps")
    ]


async def test_paginated_list_then_watch_converges(
    informer: SharedInformer, fake_api: Any, clock: FakeClock, make_configmap: Any
) -> None:
    for name in "abcde":
        fake_api.put("configmaps", make_configmap(name))
    recorder = await start(informer, clock)
    assert sorted(recorder.kinds("add")) == list("abcde")
    assert all(e[2] == "initial" for e in recorder.events)
    lists = list_requests(fake_api)
    assert [r.param("limit") for r in lists] == ["2", "2", "2"]
    assert [r.param("continue") for r in lists] == [None, "2", "4"]
    assert lists[0].param("resourceVersion") == "0"
    watch = next(r for r in fake_api.transport.requests if r.param("watch") == "1")
    assert watch.param("allowWatchBookmarks") == "true"
    assert 300 <= int(watch.param("timeoutSeconds") or 0) < 600
    assert watch.param("resourceVersion") == str(fake_api.rv)

    fake_api.put("configmaps", make_configmap("f"))
    fake_api.put("configmaps", make_configmap("a", changed="yes"))
    fake_api.remove("configmaps", "default", "b")
    await eventually(clock, lambda: len(recorder.events) == 8)
    assert recorder.events[5:] == [("add", "f", "live"), ("update", "a"), ("delete", "b")]
    assert sorted(informer.store.list_keys()) == [f"default/{n}" for n in "acdef"]
    assert informer.store.get("default/a")["data"] == {"changed": "yes"}


async def test_dropped_watch_resumes_from_last_version_without_relisting(
    informer: SharedInformer, fake_api: Any, clock: FakeClock, make_configmap: Any
) -> None:
    fake_api.put("configmaps", make_configmap("a"))
    recorder = await start(informer, clock)
    fake_api.put("configmaps", make_configmap("b"))
    await eventually(clock, lambda: "b" in recorder.kinds("add"))
    last = informer.reflector.last_resource_version
    fake_api.drop_watches()
    fake_api.put("configmaps", make_configmap("c"))  # happens while no watch is open
    await eventually(clock, lambda: "c" in recorder.kinds("add"))
    watches = [r for r in fake_api.transport.requests if r.param("watch") == "1"]
    assert watches[-1].param("resourceVersion") == last
    assert informer.reflector.list_count == 1
    assert recorder.kinds("delete") == []


async def test_bookmarks_advance_the_resume_version(
    informer: SharedInformer, fake_api: Any, clock: FakeClock
) -> None:
    await start(informer, clock)
    _, _, stream = fake_api.watches[-1]
    stream.send(
        "BOOKMARK", {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": "90210"}}
    )
    await eventually(clock, lambda: informer.reflector.last_resource_version == "90210")
    fake_api.drop_watches()
    await eventually(clock, lambda: informer.reflector.watch_count == 2)
    assert fake_api.transport.requests[-1].param("resourceVersion") == "90210"


async def test_gone_relists_with_tombstones_and_no_phantom_deletes(
    informer: SharedInformer, fake_api: Any, clock: FakeClock, make_configmap: Any
) -> None:
    for name in "abc":
        fake_api.put("configmaps", make_configmap(name))
    recorder = await start(informer, clock)
    fake_api.drop_watches()
    fake_api.remove("configmaps", "default", "b")  # deleted while we were not watching...
    fake_api.put("configmaps", make_configmap("d"))
    fake_api.compact()  # ...and the history that would have told us is gone
    await eventually(clock, lambda: informer.reflector.list_count == 2 and "d" in recorder.kinds("add"))
    relist = list_requests(fake_api)
    assert relist[-1].param("resourceVersion") in ("", None)
    assert recorder.kinds("delete") == ["b"], "the missed delete arrives as a tombstone, and only it"
    assert sorted(recorder.kinds("update")) == ["a", "c"]
    assert sorted(informer.store.list_keys()) == ["default/a", "default/c", "default/d"]


async def test_gone_as_a_watch_error_event_also_relists(
    informer: SharedInformer, fake_api: Any, clock: FakeClock
) -> None:
    await start(informer, clock)
    _, _, stream = fake_api.watches[-1]
    stream.send(
        "ERROR", {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version"}
    )
    await eventually(clock, lambda: informer.reflector.list_count == 2)


async def test_silent_watch_is_restarted_once_the_server_overstays_its_own_timeout(
    client: Client, fake_api: Any, clock: FakeClock
) -> None:
    inf = SharedInformer(client, CM, clock=clock)
    try:
        await start(inf, clock)
        asked = int(watch_requests(fake_api)[-1].param("timeoutSeconds") or 0)
        assert 300 <= asked < 600
        await clock.advance(asked + WATCH_GRACE_S - 1)  # quiet, but the server may still end it itself
        assert inf.reflector.watch_count == 1
        await eventually(clock, lambda: inf.reflector.watch_count == 2, step=1)
        assert clock.monotonic() < asked + WATCH_GRACE_S + 5
        assert inf.reflector.list_count == 1, "a re-watch resumes; it does not relist"
    finally:
        await inf.stop()


async def test_the_watch_request_outlives_the_server_side_timeout(fake_api: Any, client: Client) -> None:
    stream = await client.watch(CM, "default", resource_version="1", timeout_seconds=300)
    request = watch_requests(fake_api)[-1]
    assert request.param("timeoutSeconds") == "300"
    assert request.param("allowWatchBookmarks") == "true"
    assert request.timeout is not None and request.timeout >= 300 + WATCH_GRACE_S
    stream.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"inactivity_timeout": 80.0}, "inactivity_timeout is 80s, but the reflector asks the server"),
        ({"watch_timeout_range": (600, 300)}, "watch_timeout_range must be (low, high)"),
    ],
)
def test_client_limits_shorter_than_the_server_watch_are_refused(
    client: Client, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Reflector(client, CM, HandlerSink(), **options)


async def test_failing_watch_backs_off_then_recovers(
    informer: SharedInformer, fake_api: Any, clock: FakeClock, make_configmap: Any
) -> None:
    recorder = await start(informer, clock)
    error = MockResponse(
        500, json={"kind": "Status", "code": 500, "reason": "InternalError", "message": "etcd"}
    )
    fake_api.fail_next(*[error] * 6)  # two rounds of the client's three attempts
    fake_api.drop_watches()
    fake_api.put("configmaps", make_configmap("late"))
    await clock.advance(0.5)
    assert "late" not in recorder.kinds("add")
    await eventually(clock, lambda: "late" in recorder.kinds("add"), step=0.5)
    assert informer.reflector.list_count == 1


async def test_slow_and_failing_handlers_do_not_block_others(
    informer: SharedInformer, fake_api: Any, clock: FakeClock, make_configmap: Any
) -> None:
    gate = asyncio.Event()
    slow_seen: list[str] = []
    failures = 0

    async def slow_add(obj: Any, initial: bool) -> None:
        await gate.wait()
        slow_seen.append(obj["metadata"]["name"])

    def broken(obj: Any, initial: bool) -> None:
        nonlocal failures
        failures += 1
        raise RuntimeError("handler bug")

    informer.add_event_handler(HandlerFuncs(add=slow_add))
    informer.add_event_handler(HandlerFuncs(add=broken))
    recorder = await start(informer, clock)
    for name in "xyz":
        fake_api.put("configmaps", make_configmap(name))
    await eventually(clock, lambda: len(recorder.kinds("add")) == 3)
    assert slow_seen == [] and failures == 3
    gate.set()
    await eventually(clock, lambda: slow_seen == ["x", "y", "z"])


async def test_late_handler_gets_the_store_replayed(
    informer: SharedInformer, fake_api: Any, clock: FakeClock, make_configmap: Any
) -> None:
    for name in "ab":
        fake_api.put("configmaps", make_configmap(name))
    await start(informer, clock)
    late = Recorder()
    registration = informer.add_event_handler(late)
    await eventually(clock, lambda: registration.has_synced)
    assert sorted(late.events) == [("add", "a", "initial"), ("add", "b", "initial")]
    await registration.remove()
    fake_api.put("configmaps", make_configmap("c"))
    await clock.advance(1)
    assert len(late.events) == 2


async def test_cache_is_read_only_and_managed_fields_are_stripped(
    informer: SharedInformer, fake_api: Any, clock: FakeClock, make_configmap: Any
) -> None:
    cm = make_configmap("a", k="v")
    cm["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    fake_api.put("configmaps", cm)
    await start(informer, clock)
    cached = informer.store.get("default/a")
    assert "managedFields" not in cached["metadata"]
    with pytest.raises(TypeError, match="read-only"):
        cached["data"]["k"] = "corrupted"


async def test_resync_redelivers_every_object_as_an_update(
    client: Client, fake_api: Any, clock: FakeClock, make_configmap: Any
) -> None:
    fake_api.put("configmaps", make_configmap("a"))
    inf = SharedInformer(client, CM, clock=clock, resync_period=30)
    try:
        recorder = await start(inf, clock)
        await clock.advance(61)
        assert recorder.kinds("update") == ["a", "a"]
    finally:
        await inf.stop()


async def test_factory_shares_one_informer_per_kind(client: Client, clock: FakeClock, fake_api: Any) -> None:
    factory = SharedInformerFactory(client, clock=clock)
    first = factory.informer_for(CM)
    assert factory.informer_for(("v1", "ConfigMap")) is first
    assert factory.informer_for(CM, namespace="other") is not first
    factory.start()
    late = factory.informer_for(GVK("apps/v1", "Deployment"))
    await eventually(clock, lambda: factory.has_synced)
    await factory.wait_for_cache_sync()
    assert late.has_synced
    await factory.stop()
    assert fake_api.count("GET", watch=False, path_part="configmaps") == 2


async def test_a_kind_transform_runs_after_the_default_in_every_informer_of_the_kind(
    client: Client, clock: FakeClock, fake_api: Any, make_configmap: Any
) -> None:
    cm = make_configmap("a", k="v", big="x" * 100)
    cm["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    fake_api.put("configmaps", cm)
    factory = SharedInformerFactory(client, clock=clock)
    before = factory.informer_for(CM)  # exists before the transform is added
    factory.add_transform(CM, lambda o: {**o, "data": {k: v for k, v in o["data"].items() if k != "big"}})
    after = factory.informer_for(CM, namespace="default")  # made after
    factory.start()
    try:
        await eventually(clock, lambda: factory.has_synced)
        for informer, key in ((before, "default/a"), (after, "default/a")):
            kept = informer.store.get(key)
            assert kept["data"] == {"k": "v"} and "managedFields" not in kept["metadata"]
        assert factory.informer_for(GVK("apps/v1", "Deployment")).transform is factory.transform
        with pytest.raises(RuntimeError, match="add its transforms before it starts"):
            factory.add_transform(CM, lambda o: o)
    finally:
        await factory.stop()


def test_intern_strings_stores_a_repeated_value_once_and_changes_nothing_else() -> None:
    def fresh(text: str) -> str:
        return "".join(list(text))  # a new str object each call, as JSON decoding makes

    first = {"metadata": {"name": fresh("a"), "labels": {"os": fresh("linux")}}, "n": [1, fresh("x"), None]}
    second = {"metadata": {"name": fresh("b"), "labels": {"os": fresh("linux")}}, "n": [2, fresh("x"), True]}
    assert first["metadata"]["labels"]["os"] is not second["metadata"]["labels"]["os"]
    kept = [intern_strings(first), intern_strings(second)]
    assert kept == [first, second]
    assert kept[0]["metadata"]["labels"]["os"] is kept[1]["metadata"]["labels"]["os"]
    assert kept[0]["n"][1] is kept[1]["n"][1]
