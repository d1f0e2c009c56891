"""Store: keyed frozen objects with namespace, owner, label and custom indexes kept exact."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.ctrl.store import BY_LABEL, BY_NAMESPACE, BY_OWNER_UID, Store


def obj(
    name: str, ns: str | None = "default", labels: dict[str, str] | None = None, owner: str | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    if ns:
        meta["namespace"] = ns
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "kind": "X", "name": "o", "apiVersion": "v1"}]
    return {"metadata": meta, "spec": {"zone": name[-1]}}


def names(items: list[Any]) -> list[str]:
    return sorted(i["metadata"]["name"] for i in items)


def test_indexes_follow_updates_and_deletes() -> None:
    store = Store({"zone": lambda o: [o["spec"]["zone"]]})
    store.upsert(obj("a1", labels={"app": "web"}, owner="u1"))
    store.upsert(obj("b2", ns="prod", labels={"app": "web"}))
    store.upsert(obj("node1", ns=None))
    assert names(store.by_index(BY_NAMESPACE, "default")) == ["a1"]
    assert names(store.by_index(BY_LABEL, "app=web")) == ["a1", "b2"]
    assert names(store.by_index(BY_OWNER_UID, "u1")) == ["a1"]
    assert names(store.by_index("zone", "1")) == ["a1", "node1"]
    old, _ = store.upsert(obj("a1", labels={"app": "db"}))
    assert old is not None and old["metadata"]["labels"] == {"app": "web"}
    assert names(store.by_index(BY_LABEL, "app=web")) == ["b2"]
    assert names(store.by_index(BY_OWNER_UID, "u1")) == []
    assert store.delete("prod/b2") is not None
    assert store.by_index(BY_LABEL, "app=web") == []
    assert store.delete("prod/b2") is None
    assert sorted(store.list_keys()) == ["default/a1", "node1"]
    assert names(store.list("default")) == ["a1"]
    assert store.get_object("node1") is store.get("node1")


def test_updates_that_keep_or_gain_index_values_serve_the_newest_object() -> None:
    store = Store()
    store.upsert(obj("a1", labels={"app": "web"}))
    store.upsert({**obj("a1", labels={"app": "web"}), "spec": {"zone": "new"}})  # labels unchanged
    (found,) = store.by_index(BY_LABEL, "app=web")
    assert found["spec"]["zone"] == "new"
    store.upsert(obj("a1", labels={}))  # loses every label
    assert store.by_index(BY_LABEL, "app=web") == []
    store.upsert(obj("a1", labels={"app": "db", "tier": "1"}, owner="u9"))  # gains labels and an owner
    assert names(store.by_index(BY_LABEL, "tier=1")) == ["a1"]
    assert names(store.by_index(BY_OWNER_UID, "u9")) == ["a1"]
    assert store.delete("default/a1") is not None
    assert store.by_index(BY_LABEL, "tier=1") == [] and store.by_index(BY_OWNER_UID, "u9") == []


def test_indexer_added_later_indexes_existing_objects_and_names_are_checked() -> None:
    store = Store()
    store.upsert(obj("a1"))
    store.add_indexer("zone", lambda o: [o["spec"]["zone"]])
    assert names(store.by_index("zone", "1")) == ["a1"]
    with pytest.raises(KeyError, match="no indexer named 'nope'"):
        store.by_index("nope", "x")
    with pytest.raises(ValueError, match="already exists"):
        store.add_indexer("zone", lambda o: [])


def test_stored_objects_are_frozen_copies() -> None:
    store = Store()
    original = obj("a1")
    _, stored = store.upsert(original)
    original["spec"]["zone"] = "changed"
    assert stored["spec"]["zone"] == "1"
    with pytest.raises(TypeError):
        stored["spec"]["zone"] = "x"


def test_count_in_index_is_the_length_of_by_index() -> None:
    store = Store()
    for name, app in (("a", "web"), ("b", "web"), ("c", "db")):
        store.upsert(obj(name, labels={"app": app}))
    for value in ("app=web", "app=db", "app=none"):
        assert store.count_in_index(BY_LABEL, value) == len(store.by_index(BY_LABEL, value))
    with pytest.raises(KeyError, match="no indexer named 'nope'"):
        store.count_in_index("nope", "x")


def test_the_label_index_covers_the_keys_asked_for_and_follows_later_updates() -> None:
    store = Store()
    store.upsert(obj("a", labels={"app": "web", "zone": "1"}))
    store.upsert(obj("b", labels={"app": "db", "zone": "1"}))
    assert names(store.by_index(BY_LABEL, "zone=1")) == ["a", "b"]  # first ask for "zone": indexed now
    assert names(store.by_index(BY_LABEL, "app=web")) == ["a"]  # a second key: both stay indexed
    assert names(store.by_index(BY_LABEL, "zone=1")) == ["a", "b"]
    store.upsert(obj("a", labels={"app": "db", "zone": "2"}))
    store.upsert(obj("c", labels={"app": "web"}))
    assert names(store.by_index(BY_LABEL, "app=db")) == ["a", "b"]
    assert (
        names(store.by_index(BY_LABEL, "zone=2")) == ["a"] and store.count_in_index(BY_LABEL, "app=web") == 1
    )
    store.delete("default/c")
    assert store.by_index(BY_LABEL, "app=web") == [] and store.by_index(BY_LABEL, "tier=x") == []


def test_a_bucket_grows_and_shrinks_through_one_two_and_no_keys() -> None:
    store = Store()
    steps: list[tuple[str, str, list[str]]] = [
        ("add", "a", ["a"]),
        ("add", "b", ["a", "b"]),
        ("add", "c", ["a", "b", "c"]),
        ("del", "a", ["b", "c"]),
        ("del", "c", ["b"]),
        ("add", "b", ["b"]),  # the same key again: still one
        ("del", "b", []),
        ("add", "c", ["c"]),
    ]
    for action, name, expected in steps:
        if action == "add":
            store.upsert(obj(name, owner="u1"))
        else:
            store.delete(f"default/{name}")
        assert names(store.by_index(BY_OWNER_UID, "u1")) == expected, (action, name)
        assert store.count_in_index(BY_OWNER_UID, "u1") == len(expected)
