"""The strategy registry: which strategy a kind gets, and that the store asks it (not a branch of its own)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from kaito.sim.server.errors import FieldError, Forbidden, Invalid, NotFound
from kaito.sim.server.resources import ResourceRegistry, ResourceType
from kaito.sim.server.store import Store
from kaito.sim.server.strategies import default_strategies
from kaito.sim.server.strategy import Strategy, StrategyRegistry

GADGET = ResourceType(
    group="example.com",
    version="v1",
    kind="Gadget",
    plural="gadgets",
    singular="gadget",
    namespaced=True,
    subresources=frozenset({"status"}),
)


def test_a_kind_gets_its_own_strategy_else_the_builtin_or_custom_fallback() -> None:
    own, builtin, custom = Strategy(), Strategy(), Strategy()
    registry = StrategyRegistry({("", "pods"): own}, builtin=builtin, custom=custom)
    types = {rt.kind: rt for rt in ResourceRegistry().all()}
    assert registry.for_type(types["Pod"]) is own
    assert registry.for_type(types["ConfigMap"]) is builtin
    assert registry.for_type(dataclasses.replace(GADGET, custom=True)) is custom
    later = Strategy()
    registry.register(("", "pods"), later)
    assert registry.for_type(types["Pod"]) is later
    assert ("", "pods") in registry and ("", "configmaps") not in registry


def test_each_store_gets_its_own_registry_so_allocators_are_not_shared() -> None:
    first, second = default_strategies(), default_strategies()
    assert dict(first).keys() == dict(second).keys()
    assert dict(first)[("", "services")] is not dict(second)[("", "services")]


class GadgetStrategy(Strategy):
    """A strategy for a kind the store has never heard of: every hook leaves a trace a client would see."""

    create_on_update = True

    def prepare_for_create(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        super().prepare_for_create(rt, obj)
        obj.setdefault("spec", {}).setdefault("color", "grey")

    def validate(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        size = (obj.get("spec") or {}).get("size", 0)
        if size < 0:
            return [FieldError("FieldValueInvalid", "spec.size", "must be greater than or equal to 0", size)]
        return []

    def derive(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None, now: str) -> None:
        obj.setdefault("metadata", {}).setdefault("labels", {})["size"] = str(obj["spec"].get("size", 0))

    def check_delete(self, rt: ResourceType, name: str) -> None:
        if name == "keep":
            raise Forbidden.for_object(rt.plural, rt.group, name, "gadget keep may not be deleted")


@pytest.fixture
def store() -> Store:
    registry = StrategyRegistry({GADGET.storage_key: GadgetStrategy()})
    return Store(ResourceRegistry([*ResourceRegistry().all(), GADGET]), strategies=registry)


def test_the_store_asks_the_kinds_strategy_on_create_update_and_delete(store: Store) -> None:
    made = store.create("example.com/v1", "Gadget", {"metadata": {"name": "g"}, "spec": {"size": 2}})
    assert made["spec"]["color"] == "grey"
    assert made["metadata"]["labels"] == {"size": "2"}
    with pytest.raises(Invalid, match=r"spec\.size"):
        store.update("example.com/v1", "Gadget", {"metadata": {"name": "g"}, "spec": {"size": -1}})
    put = store.update("example.com/v1", "Gadget", {"metadata": {"name": "keep"}, "spec": {"size": 1}})
    assert put["metadata"]["resourceVersion"]  # created by a PUT: create_on_update
    with pytest.raises(Forbidden, match="gadget keep may not be deleted"):
        store.delete("example.com/v1", "Gadget", "keep")
    store.delete("example.com/v1", "Gadget", "g")
    with pytest.raises(NotFound):
        store.get("example.com/v1", "Gadget", "g")


STATUS_WRITES = [
    (
        "v1",
        "Pod",
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        {"phase": "Running"},
    ),
    (
        "apps/v1",
        "Deployment",
        {
            "metadata": {"name": "d"},
            "spec": {
                "selector": {"matchLabels": {"app": "d"}},
                "template": {
                    "metadata": {"labels": {"app": "d"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
        {"replicas": 1},
    ),
    ("v1", "Node", {"metadata": {"name": "n"}, "spec": {}}, {"allocatable": {"cpu": "2"}}),
]


@pytest.mark.parametrize(("api_version", "kind", "body", "status"), STATUS_WRITES)
def test_a_status_write_leaves_the_object_it_replaces_as_it_was(
    api_version: str, kind: str, body: dict[str, Any], status: dict[str, Any]
) -> None:
    store = Store()  # the kinds' own strategies
    created = store.create(api_version, kind, body, namespace="default", field_manager="creator")
    stored_before = store.get(api_version, kind, created["metadata"]["name"], "default", copy=False)
    snapshot = json.dumps(stored_before)
    written = dict(created, status=status)
    written["metadata"] = dict(created["metadata"], labels={"ignored": "on a status write"})
    after = store.update(api_version, kind, written, subresource="status", field_manager="status-writer")
    assert after["status"] == status
    managers = [(e["manager"], e.get("subresource")) for e in after["metadata"]["managedFields"]]
    assert managers == [("creator", None), ("status-writer", "status")]
    assert "labels" not in after["metadata"]  # a status write takes nothing but status from its body
    assert after["spec"] == created["spec"]
    assert json.dumps(stored_before) == snapshot
    assert int(after["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
