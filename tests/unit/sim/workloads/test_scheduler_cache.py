"""Tests of the scheduler's cache: after every write it agrees with a full recount from the store."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from kaito.sim.server.store import Store
from kaito.sim.workloads.scheduler import bound_usage, node_allocatable
from kaito.sim.workloads.scheduler_cache import SchedulerCache


def node(name: str, gpus: int = 2) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": str(gpus)}},
    }


def pod(name: str, node_name: str | None = None, gpus: str = "1", cpu: str = "500m") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "main",
                "image": "x",
                "resources": {"limits": {"nvidia.com/gpu": gpus}, "requests": {"cpu": cpu}},
            }
        ]
    }
    if node_name:
        spec["nodeName"] = node_name
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


def bind(store: Store, name: str, node_name: str) -> None:
    current = store.get("v1", "Pod", name, "default")
    current["spec"]["nodeName"] = node_name
    store.update("v1", "Pod", current)


def set_phase(store: Store, name: str, phase: str) -> None:
    current = store.get("v1", "Pod", name, "default")
    current["status"] = {**(current.get("status") or {}), "phase": phase}
    store.update("v1", "Pod", current, subresource="status")


def resize_node(store: Store, name: str, gpus: int) -> None:
    current = store.get("v1", "Node", name)
    current["status"]["allocatable"]["nvidia.com/gpu"] = str(gpus)
    store.update("v1", "Node", current, subresource="status")


Step = Callable[[Store], object]

STEPS: list[tuple[str, Step]] = [
    ("a node", lambda s: s.create("v1", "Node", node("n1"))),
    ("another node", lambda s: s.create("v1", "Node", node("n2", gpus=4))),
    ("a pending pod", lambda s: s.create("v1", "Pod", pod("p1"))),
    ("the pod bound", lambda s: bind(s, "p1", "n1")),
    ("its status written", lambda s: set_phase(s, "p1", "Running")),
    ("a pod created bound", lambda s: s.create("v1", "Pod", pod("p2", "n1", gpus="1", cpu="2"))),
    ("a third on the other node", lambda s: s.create("v1", "Pod", pod("p3", "n2", gpus="3"))),
    ("a pod finished", lambda s: set_phase(s, "p2", "Succeeded")),
    ("a pod deleted", lambda s: s.delete("v1", "Pod", "p3", "default")),
    ("a node resized", lambda s: resize_node(s, "n2", 8)),
    ("a node deleted", lambda s: s.delete("v1", "Node", "n2")),
    ("the last pod deleted", lambda s: s.delete("v1", "Pod", "p1", "default")),
]


def recount(store: Store) -> tuple[dict[str, dict[str, Decimal]], dict[str, dict[str, Decimal]]]:
    pods, _ = store.list("v1", "Pod")
    nodes, _ = store.list("v1", "Node")
    return bound_usage(pods), {n["metadata"]["name"]: node_allocatable(n) for n in nodes}


def cached(cache: SchedulerCache) -> tuple[dict[str, dict[str, Decimal]], dict[str, dict[str, Decimal]]]:
    usage = {name: {r: a for r, a in used.items()} for name, used in cache.usage.items()}
    # a node whose pods all went keeps no entry; a zero entry would mean the same to the scheduler
    usage = {name: used for name, used in usage.items() if any(used.values())}
    return usage, {name: dict(parsed) for name, parsed in cache.allocatable.items()}


def test_cache_agrees_with_a_recount_after_every_write() -> None:
    store = Store()
    cache = SchedulerCache(store)
    for what, step in STEPS:
        step(store)
        assert cached(cache) == recount(store), what
        assert set(cache.nodes) == {n["metadata"]["name"] for n in store.list("v1", "Node")[0]}, what
    assert cache.usage == {}


@pytest.mark.parametrize("upto", range(len(STEPS) + 1))
def test_a_cache_built_later_starts_from_what_is_stored(upto: int) -> None:
    store = Store()
    for _, step in STEPS[:upto]:
        step(store)
    assert cached(SchedulerCache(store)) == recount(store)


def test_a_closed_cache_stops_following() -> None:
    store = Store()
    cache = SchedulerCache(store)
    cache.close()
    store.create("v1", "Node", node("n1"))
    assert dict(cache.nodes) == {}


def test_a_bound_pod_with_a_quantity_that_does_not_parse_takes_only_its_pod_slot() -> None:
    store = Store()
    cache = SchedulerCache(store)
    store.create("v1", "Node", node("n1"))
    store.create("v1", "Pod", pod("odd", "n1", cpu="lots"))
    assert cache.usage == {"n1": {"pods": Decimal(1)}}
