"""EventRecorder: core/v1 Events, repeats aggregated into count and lastTimestamp."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.ctrl.client import Client
from kaito.ctrl.events import EventRecorder
from kaito.ctrl.testing import FakeClock, MockResponse

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "prod", "uid": "u1"}}


def events(fake_api: Any) -> list[dict[str, Any]]:
    return [o for (p, _, _), o in fake_api.objects.items() if p == "events"]


async def test_repeats_are_aggregated(client: Client, clock: FakeClock, fake_api: Any) -> None:
    recorder = EventRecorder(client, "my-controller", clock=clock)
    await recorder.normal(POD, "Scheduled", "placed on node-1")
    await clock.advance(5)
    await recorder.normal(POD, "Scheduled", "placed on node-1")
    await recorder.normal(POD, "Scheduled", "placed on node-1")
    await recorder.warning(POD, "BackOff", "restarting")
    await recorder.normal(POD, "Scheduled", "placed on node-2")
    stored = sorted(events(fake_api), key=lambda e: (e["reason"], e["message"]))
    assert [(e["reason"], e["message"], e["count"]) for e in stored] == [
        ("BackOff", "restarting", 1),
        ("Scheduled", "placed on node-1", 3),
        ("Scheduled", "placed on node-2", 1),
    ]
    scheduled = stored[1]
    assert scheduled["firstTimestamp"] == "2026-01-01T00:00:00Z"
    assert scheduled["lastTimestamp"] == "2026-01-01T00:00:05Z"
    assert scheduled["involvedObject"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "web",
        "namespace": "prod",
        "uid": "u1",
    }
    assert scheduled["source"] == {"component": "my-controller"}
    assert scheduled["metadata"]["namespace"] == "prod" and scheduled["metadata"]["name"].startswith("web.")
    assert stored[0]["type"] == "Warning"


async def test_expired_event_is_recreated_and_failures_never_raise(
    client: Client, clock: FakeClock, fake_api: Any
) -> None:
    recorder = EventRecorder(client, "c", clock=clock)
    await recorder.normal(POD, "R", "m")
    (event,) = events(fake_api)
    fake_api.remove("events", "prod", event["metadata"]["name"])
    await clock.advance(1)
    await recorder.normal(POD, "R", "m")
    assert [e["count"] for e in events(fake_api)] == [1]
    fake_api.fail_next(
        MockResponse(403, json={"kind": "Status", "code": 403, "reason": "Forbidden", "message": "no"})
    )
    await recorder.normal(POD, "Other", "m")  # logged, not raised


async def test_event_type_is_checked(client: Client) -> None:
    with pytest.raises(ValueError, match="'Normal' or 'Warning'"):
        await EventRecorder(client, "c").event(POD, "Info", "R", "m")
