"""Watch filtering and delivery, driven directly with Change records."""

from __future__ import annotations

import asyncio
from typing import Any

from kaito.sim.server.selectors import parse_label_selector
from kaito.sim.server.watch import Change, Watch

KEY = ("", "pods")


def obj(name: str, rv: int, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv), "labels": labels},
    }


def change(
    rv: int, type_: str, new: dict[str, Any], prev: dict[str, Any] | None = None, key: tuple[str, str] = KEY
) -> Change:
    return Change(rv, type_, key, "Pod", new, prev, "ns")


def make(**kwargs: Any) -> Watch:
    return Watch(current_rv=lambda: 42, key=KEY, api_version="v1", kind="Pod", **kwargs)


def test_filters_by_kind_and_namespace_and_copies_objects() -> None:
    watch = make(namespace="ns")
    shared = obj("a", 1)
    watch.offer(change(1, "ADDED", shared))
    watch.offer(change(2, "ADDED", obj("b", 2), key=("", "configmaps")))
    watch.offer(Change(3, "ADDED", KEY, "Pod", obj("c", 3), None, "other"))
    [event] = watch.drain()
    assert (event.type, event.object["metadata"]["name"], event.api_version, event.kind) == (
        "ADDED",
        "a",
        "v1",
        "Pod",
    )
    event.object["metadata"]["name"] = "changed"
    assert shared["metadata"]["name"] == "a"


def test_selector_transitions() -> None:
    watch = make(label_selector=parse_label_selector("app=web"))
    watch.offer(change(1, "ADDED", obj("a", 1, app="db")))
    watch.offer(change(2, "MODIFIED", obj("a", 2, app="web"), obj("a", 1, app="db")))
    watch.offer(change(3, "MODIFIED", obj("a", 3, app="web"), obj("a", 2, app="web")))
    watch.offer(change(4, "MODIFIED", obj("a", 4, app="db"), obj("a", 3, app="web")))
    events = watch.drain()
    assert [(e.type, e.object["metadata"]["resourceVersion"]) for e in events] == [
        ("ADDED", "2"),
        ("MODIFIED", "3"),
        ("DELETED", "4"),
    ]
    assert events[-1].object["metadata"]["labels"] == {"app": "web"}  # the last state that matched


async def test_bookmarks_and_close() -> None:
    watch = make(allow_bookmarks=True, bookmark_interval=0.01)
    event = await asyncio.wait_for(anext(watch), 1)
    assert event.type == "BOOKMARK" and event.object["metadata"] == {"resourceVersion": "42"}
    closed: list[Watch] = []
    other = make(on_close=closed.append)
    other.offer(change(1, "ADDED", obj("a", 1)))
    other.close()
    assert closed == [other]
    assert [e async for e in other] == []


def test_closing_bookmark_only_when_asked_and_nothing_is_still_queued() -> None:
    assert make().closing_bookmark() is None, "bookmarks were not asked for"
    busy = make(allow_bookmarks=True)
    busy.offer(change(41, "ADDED", obj("a", 41)))
    assert busy.closing_bookmark() is None, "an event is still queued: the current version would skip it"
    busy.drain()
    last = busy.closing_bookmark()
    assert last is not None and last.type == "BOOKMARK"
    assert last.object["metadata"] == {"resourceVersion": "42"}
    busy.close()
    assert busy.closing_bookmark() is None
