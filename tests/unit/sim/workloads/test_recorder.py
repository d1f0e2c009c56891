"""Tests of the Event recorder: the Event's shape and client-go's deduplication window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kaito.sim.server.store import Store
from kaito.sim.workloads.recorder import EventRecorder


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> Store:
    return Store(clock=clock)


@pytest.fixture
def pod(store: Store) -> dict[str, Any]:
    body = {
        "metadata": {"name": "web-0", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
    }
    return store.create("v1", "Pod", body)


def events(store: Store) -> list[dict[str, Any]]:
    return store.list("v1", "Event")[0]


def test_event_names_the_object_source_and_times(store: Store, clock: FakeClock, pod: dict[str, Any]) -> None:
    recorder = EventRecorder(store, clock=clock)
    recorder.event(
        pod,
        "Warning",
        "BackOff",
        "Back-off restarting",
        component="kubelet",
        host="n1",
        field_path="spec.containers{c}",
    )
    (event,) = events(store)
    assert event["metadata"]["name"].startswith("web-0.")
    assert event["metadata"]["namespace"] == "default"
    assert event["involvedObject"] == {
        "kind": "Pod",
        "apiVersion": "v1",
        "name": "web-0",
        "namespace": "default",
        "uid": pod["metadata"]["uid"],
        "resourceVersion": pod["metadata"]["resourceVersion"],
        "fieldPath": "spec.containers{c}",
    }
    assert (event["type"], event["reason"], event["message"], event["count"]) == (
        "Warning",
        "BackOff",
        "Back-off restarting",
        1,
    )
    assert event["source"] == {"component": "kubelet", "host": "n1"}
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-01-01T12:00:00Z"


@pytest.mark.parametrize(
    ("later", "reason", "message", "expected_events", "expected_count"),
    [
        (timedelta(minutes=5), "FailedScheduling", "0/1 nodes are available", 1, 2),
        (timedelta(minutes=11), "FailedScheduling", "0/1 nodes are available", 2, 1),
        (timedelta(minutes=1), "FailedScheduling", "0/2 nodes are available", 2, 1),
        (timedelta(minutes=1), "Scheduled", "0/1 nodes are available", 2, 1),
    ],
)
def test_repeats_within_ten_minutes_bump_count(
    store: Store,
    clock: FakeClock,
    pod: dict[str, Any],
    later: timedelta,
    reason: str,
    message: str,
    expected_events: int,
    expected_count: int,
) -> None:
    recorder = EventRecorder(store, clock=clock)
    recorder.event(
        pod, "Warning", "FailedScheduling", "0/1 nodes are available", component="default-scheduler"
    )
    clock.now += later
    written = recorder.event(pod, "Warning", reason, message, component="default-scheduler")
    assert len(events(store)) == expected_events
    assert written is not None
    assert written["count"] == expected_count
    assert written["lastTimestamp"] == (datetime(2026, 1, 1, 12, 0, tzinfo=UTC) + later).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_cluster_scoped_objects_get_events_in_default(store: Store, clock: FakeClock) -> None:
    node = store.create("v1", "Node", {"metadata": {"name": "n1"}})
    EventRecorder(store, clock=clock).event(
        node, "Normal", "RegisteredNode", "Node n1 registered", component="node-controller"
    )
    (event,) = events(store)
    assert event["metadata"]["namespace"] == "default"
    assert "namespace" not in event["involvedObject"]


def test_an_event_that_cannot_be_written_is_dropped(store: Store, clock: FakeClock) -> None:
    ghost = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "missing", "uid": "u"}}
    assert EventRecorder(store, clock=clock).event(ghost, "Normal", "X", "y", component="kubelet") is None
    assert events(store) == []


def test_a_deleted_event_is_recreated_instead_of_bumped(
    store: Store, clock: FakeClock, pod: dict[str, Any]
) -> None:
    recorder = EventRecorder(store, clock=clock)
    first = recorder.event(pod, "Normal", "Pulled", "pulled", component="kubelet")
    assert first is not None
    store.delete("v1", "Event", first["metadata"]["name"], "default")
    again = recorder.event(pod, "Normal", "Pulled", "pulled", component="kubelet")
    assert again is not None and again["count"] == 1
    assert len(events(store)) == 1
