"""Store semantics that must match kube-apiserver, one behaviour per test (tables where cases repeat)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kaito.sim.server.errors import AlreadyExists, BadRequest, Conflict, Forbidden, Gone, Invalid, NotFound
from kaito.sim.server.store import APPLY_PATCH, JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, Store


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> Store:
    return Store(clock=clock)


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": "nginx"}]},
    }


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": "nginx"}]},
            },
        },
    }


# ------------------------------------------------------------------------------------------------ create/get
def test_default_namespaces_exist_at_start(store: Store) -> None:
    names = [ns["metadata"]["name"] for ns in store.list("v1", "Namespace")[0]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    assert store.get("v1", "Namespace", "default")["status"] == {"phase": "Active"}


def test_create_sets_system_metadata(store: Store, clock: FakeClock) -> None:
    created = store.create("v1", "Pod", pod("web-0"))
    md = created["metadata"]
    assert md["namespace"] == "default"
    assert len(md["uid"]) == 36
    assert md["creationTimestamp"] == "2026-01-02T03:04:05Z"
    assert "generation" not in md  # kube 1.32 gives Pods none
    assert md["resourceVersion"] == str(store.resource_version)
    assert created["status"]["phase"] == "Pending"
    assert store.get("v1", "Pod", "web-0", "default") == created


def test_returned_objects_are_copies(store: Store) -> None:
    created = store.create("v1", "Pod", pod("web-0"))
    created["spec"]["containers"][0]["image"] = "mutated"
    assert store.get("v1", "Pod", "web-0")["spec"]["containers"][0]["image"] == "nginx"


def test_resource_version_increases_across_kinds(store: Store) -> None:
    versions = [
        int(store.create("v1", "Pod", pod("a"))["metadata"]["resourceVersion"]),
        int(store.create("v1", "ConfigMap", {"metadata": {"name": "c"}})["metadata"]["resourceVersion"]),
        int(store.create("apps/v1", "Deployment", deployment("d"))["metadata"]["resourceVersion"]),
    ]
    assert versions == sorted(versions) and len(set(versions)) == 3
    assert store.resource_version == versions[-1]


def test_create_twice_is_already_exists(store: Store) -> None:
    store.create("apps/v1", "Deployment", deployment("web"))
    with pytest.raises(AlreadyExists) as err:
        store.create("apps/v1", "Deployment", deployment("web"))
    assert err.value.message == 'deployments.apps "web" already exists'
    assert err.value.to_status()["code"] == 409


def test_generate_name(store: Store) -> None:
    created = store.create("v1", "Pod", {**pod(""), "metadata": {"generateName": "web-"}})
    name = created["metadata"]["name"]
    assert name.startswith("web-") and len(name) == len("web-") + 5


@pytest.mark.parametrize(
    ("namespace", "error", "message"),
    [
        ("missing", NotFound, 'namespaces "missing" not found'),
    ],
)
def test_create_in_missing_namespace(store: Store, namespace: str, error: type, message: str) -> None:
    with pytest.raises(error) as err:
        store.create("v1", "Pod", pod("p"), namespace=namespace)
    assert err.value.message == message


def test_create_in_terminating_namespace_is_forbidden(store: Store) -> None:
    store.create("v1", "Namespace", {"metadata": {"name": "team"}})
    store.delete("v1", "Namespace", "team")
    with pytest.raises(Forbidden) as err:
        store.create("v1", "Pod", pod("p"), namespace="team")
    assert err.value.message == (
        'pods "p" is forbidden: unable to create new content in namespace team because it is being terminated'
    )


def test_get_missing_is_not_found_with_kube_message(store: Store) -> None:
    with pytest.raises(NotFound) as err:
        store.get("apps/v1", "Deployment", "nope", "default")
    assert err.value.to_status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "deployments", "group": "apps"},
        "code": 404,
    }


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        (
            {"metadata": {"name": "Bad_Name"}},
            'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123',
        ),
        ({"metadata": {}}, "metadata.name: Required value: name or generateName is required"),
    ],
)
def test_invalid_names(store: Store, obj: dict[str, Any], fragment: str) -> None:
    with pytest.raises(Invalid) as err:
        store.create("v1", "ConfigMap", obj)
    assert fragment in err.value.message


def test_pod_without_containers_is_invalid(store: Store) -> None:
    with pytest.raises(Invalid) as err:
        store.create("v1", "Pod", {"metadata": {"name": "p"}, "spec": {}})
    assert err.value.message == 'Pod "p" is invalid: spec.containers: Required value'
    assert err.value.causes == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}
    ]


# ------------------------------------------------------------------------------------------------ list
def test_list_is_sorted_and_returns_list_resource_version(store: Store) -> None:
    store.create("v1", "Namespace", {"metadata": {"name": "b"}})
    for ns, name in [("default", "z"), ("b", "a"), ("default", "a")]:
        store.create("v1", "ConfigMap", {"metadata": {"name": name}}, namespace=ns)
    items, rv = store.list("v1", "ConfigMap")
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items] == [
        ("b", "a"),
        ("default", "a"),
        ("default", "z"),
    ]
    assert rv == str(store.resource_version)
    assert [i["metadata"]["name"] for i in store.list("v1", "ConfigMap", "default")[0]] == ["a", "z"]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["w1", "w2"]),
        ("app==web", ["w1", "w2"]),
        ("app!=web", ["d1", "n1"]),
        ("app in (web, db)", ["d1", "w1", "w2"]),
        ("app notin (web)", ["d1", "n1"]),
        ("tier", ["w2"]),
        ("!tier", ["d1", "n1", "w1"]),
        ("app=web,tier=front", ["w2"]),
    ],
)
def test_label_selectors(store: Store, selector: str, expected: list[str]) -> None:
    store.create("v1", "Pod", pod("w1", app="web"))
    store.create("v1", "Pod", pod("w2", app="web", tier="front"))
    store.create("v1", "Pod", pod("d1", app="db"))
    store.create("v1", "Pod", pod("n1"))
    items, _ = store.list("v1", "Pod", label_selector=selector)
    assert [i["metadata"]["name"] for i in items] == expected


@pytest.mark.parametrize(
    ("kind", "selector", "expected"),
    [
        ("Pod", "spec.nodeName=node-1", ["a"]),
        ("Pod", "spec.nodeName!=node-1", ["b"]),
        ("Pod", "metadata.name=b", ["b"]),
        ("Pod", "metadata.namespace=default,status.phase=Pending", ["a", "b"]),
        ("Event", "involvedObject.kind=Pod,involvedObject.name=a", ["ev-a"]),
        ("Event", "involvedObject.uid=uid-b", ["ev-b"]),
    ],
)
def test_field_selectors(store: Store, kind: str, selector: str, expected: list[str]) -> None:
    a = pod("a")
    a["spec"]["nodeName"] = "node-1"
    store.create("v1", "Pod", a)
    store.create("v1", "Pod", pod("b"))
    for target, uid in [("a", "uid-a"), ("b", "uid-b")]:
        store.create(
            "v1",
            "Event",
            {
                "metadata": {"name": f"ev-{target}"},
                "involvedObject": {"kind": "Pod", "name": target, "uid": uid},
            },
        )
    items, _ = store.list("v1", kind, field_selector=selector)
    assert [i["metadata"]["name"] for i in items] == expected


def test_unsupported_field_selector_is_bad_request(store: Store) -> None:
    with pytest.raises(BadRequest) as err:
        store.list("v1", "ConfigMap", field_selector="spec.foo=bar")
    assert err.value.message == "field label not supported: spec.foo"


# ------------------------------------------------------------------------------------------------ update
def test_update_with_stale_resource_version_conflicts(store: Store) -> None:
    first = store.create("apps/v1", "Deployment", deployment("web"))
    first["spec"]["replicas"] = 2
    store.update("apps/v1", "Deployment", first)
    first["spec"]["replicas"] = 3
    with pytest.raises(Conflict) as err:
        store.update("apps/v1", "Deployment", first)
    assert err.value.message == (
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def test_generation_bumps_on_spec_change_only(store: Store) -> None:
    obj = store.create("apps/v1", "Deployment", deployment("web"))
    obj["metadata"]["labels"] = {"x": "y"}
    obj = store.update("apps/v1", "Deployment", obj)
    assert obj["metadata"]["generation"] == 1
    obj["status"] = {"replicas": 5}
    obj = store.update("apps/v1", "Deployment", obj, subresource="status")
    assert obj["metadata"]["generation"] == 1
    obj["spec"]["replicas"] = 4
    obj = store.update("apps/v1", "Deployment", obj)
    assert obj["metadata"]["generation"] == 2


def _statefulset(name: str) -> dict[str, Any]:
    return {**deployment(name), "spec": {**deployment(name)["spec"], "serviceName": name}}


# (apiVersion, kind, object, a spec change as a merge patch); None: the kind has no generation
GENERATION_KINDS = [
    ("apps/v1", "Deployment", deployment("g"), {"spec": {"replicas": 2}}, (1, 2, 2, 3)),
    ("apps/v1", "StatefulSet", _statefulset("g"), {"spec": {"replicas": 2}}, (1, 1, 1, 2)),
    ("v1", "ConfigMap", {"metadata": {"name": "g"}, "data": {"a": "1"}}, {"data": {"a": "2"}}, None),
    ("v1", "Pod", pod("g"), {"spec": {"activeDeadlineSeconds": 5}}, None),
    (
        "v1",
        "Service",
        {"metadata": {"name": "g"}, "spec": {"ports": [{"port": 80}]}},
        {"spec": {"a": 1}},
        None,
    ),
    ("v1", "Namespace", {"metadata": {"name": "g"}}, {"spec": {"finalizers": ["x"]}}, None),
]


@pytest.mark.parametrize(
    ("api_version", "kind", "obj", "spec_patch", "generations"),
    GENERATION_KINDS,
    ids=[case[1] for case in GENERATION_KINDS],
)
def test_generation_exists_where_kube_strategies_keep_it(
    store: Store,
    api_version: str,
    kind: str,
    obj: dict[str, Any],
    spec_patch: dict[str, Any],
    generations: tuple[int, ...] | None,
) -> None:
    """created, annotated, labelled, spec changed: a Deployment's annotations count (kube copies them to its
    ReplicaSets), a StatefulSet's do not; ConfigMaps, Pods (before 1.33), Services, Namespaces have none."""
    seen = [store.create(api_version, kind, obj)]
    for patch in (
        {"metadata": {"annotations": {"a": "b"}}},
        {"metadata": {"labels": {"l": "v"}}},
        spec_patch,
    ):
        seen.append(store.patch(api_version, kind, "g", patch, MERGE_PATCH, "default"))
    got = [o["metadata"].get("generation") for o in seen]
    assert got == (list(generations) if generations else [None] * 4)


def test_writes_cannot_set_generation(store: Store) -> None:
    created = store.create(
        "apps/v1", "Deployment", {**deployment("g"), "metadata": {"name": "g", "generation": 9}}
    )
    assert created["metadata"]["generation"] == 1
    out = store.patch("apps/v1", "Deployment", "g", {"metadata": {"generation": 7}}, MERGE_PATCH)
    assert out["metadata"]["generation"] == 1
    store.create("v1", "ConfigMap", {"metadata": {"name": "c"}})
    out = store.patch("v1", "ConfigMap", "c", {"metadata": {"generation": 7}}, MERGE_PATCH)
    assert "generation" not in out["metadata"]


def test_status_subresource_semantics(store: Store) -> None:
    obj = store.create("apps/v1", "Deployment", {**deployment("web"), "status": {"replicas": 9}})
    assert "status" not in obj  # create ignores status for kinds with a status subresource
    obj["status"] = {"replicas": 1}
    obj["spec"]["replicas"] = 7
    after_status = store.update("apps/v1", "Deployment", obj, subresource="status")
    assert after_status["status"] == {"replicas": 1}
    assert after_status["spec"]["replicas"] == 1  # the status write ignored spec
    after_status["status"] = {"replicas": 2}
    after_status["spec"]["replicas"] = 3
    after_main = store.update("apps/v1", "Deployment", after_status)
    assert after_main["status"] == {"replicas": 1}  # the main write ignored status
    assert after_main["spec"]["replicas"] == 3


def test_noop_update_commits_nothing(store: Store) -> None:
    obj = store.create("v1", "ConfigMap", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    rv = store.resource_version
    again = store.update("v1", "ConfigMap", obj)
    assert again["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
    assert store.resource_version == rv


def test_update_of_missing_object_is_not_found_except_create_on_update_kinds(store: Store) -> None:
    with pytest.raises(NotFound):
        store.update("v1", "ConfigMap", {"metadata": {"name": "c"}})
    lease = store.update("coordination.k8s.io/v1", "Lease", {"metadata": {"name": "l"}, "spec": {}})
    assert lease["metadata"]["uid"] and lease["metadata"]["resourceVersion"]


def test_uid_precondition_in_update(store: Store) -> None:
    obj = store.create("v1", "ConfigMap", {"metadata": {"name": "c"}})
    obj["metadata"]["uid"] = "other"
    with pytest.raises(Conflict, match="Precondition failed: UID in precondition: other"):
        store.update("v1", "ConfigMap", obj)


# ------------------------------------------------------------------------------------------------ patch
def test_merge_patch(store: Store) -> None:
    store.create("v1", "ConfigMap", {"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}})
    out = store.patch("v1", "ConfigMap", "c", {"data": {"a": None, "c": "3"}}, MERGE_PATCH, "default")
    assert out["data"] == {"b": "2", "c": "3"}


def test_json_patch(store: Store) -> None:
    store.create("v1", "ConfigMap", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    ops = [{"op": "add", "path": "/data/b", "value": "2"}, {"op": "remove", "path": "/data/a"}]
    assert store.patch("v1", "ConfigMap", "c", ops, JSON_PATCH)["data"] == {"b": "2"}
    with pytest.raises(Invalid):
        store.patch("v1", "ConfigMap", "c", [{"op": "test", "path": "/data/b", "value": "x"}], JSON_PATCH)


def test_strategic_merge_patch_merges_containers_by_name(store: Store) -> None:
    store.create("apps/v1", "Deployment", deployment("web"))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}}
    out = store.patch("apps/v1", "Deployment", "web", patch, STRATEGIC_MERGE_PATCH)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["main", "side"]
    assert out["metadata"]["generation"] == 2


def test_patch_with_stale_resource_version_conflicts(store: Store) -> None:
    store.create("v1", "ConfigMap", {"metadata": {"name": "c"}})
    with pytest.raises(Conflict):
        store.patch(
            "v1", "ConfigMap", "c", {"metadata": {"resourceVersion": "1"}, "data": {"a": "b"}}, MERGE_PATCH
        )


def test_patch_status_subresource_ignores_spec(store: Store) -> None:
    store.create("apps/v1", "Deployment", deployment("web"))
    patch = {"spec": {"replicas": 5}, "status": {"readyReplicas": 1}}
    out = store.patch("apps/v1", "Deployment", "web", patch, MERGE_PATCH, subresource="status")
    assert out["spec"]["replicas"] == 1 and out["status"] == {"readyReplicas": 1}


def test_server_side_apply_creates_then_updates(store: Store) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"a": "1", "b": "2"},
    }
    created = store.patch("v1", "ConfigMap", "c", json.dumps(config), APPLY_PATCH, field_manager="kubectl")
    assert created["data"] == {"a": "1", "b": "2"}
    [entry] = created["metadata"]["managedFields"]
    assert entry["manager"] == "kubectl" and entry["operation"] == "Apply"
    assert entry["fieldsV1"] == {"f:data": {".": {}, "f:a": {}, "f:b": {}}}
    config["data"] = {"a": "9"}
    updated = store.patch("v1", "ConfigMap", "c", config, APPLY_PATCH, field_manager="kubectl")
    assert updated["data"] == {"a": "9"}  # b was applied by kubectl before and is no longer: removed
    with pytest.raises(BadRequest, match="fieldManager"):
        store.patch("v1", "ConfigMap", "c", config, APPLY_PATCH)


def test_server_side_apply_of_a_custom_resource_keeps_its_owner_references(store: Store) -> None:
    """A controller re-applying a child (same manager, same configuration) changes nothing, however often:
    the owner references of a custom resource merge by uid as ObjectMeta's do on every kind (once they were
    emptied to `[{}]` by the third apply, and the garbage collector deleted the ownerless child)."""
    store.create(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        {
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"kind": "Widget", "plural": "widgets"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "subresources": {"status": {}},
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        },
    )
    owner = store.create("v1", "ConfigMap", {"metadata": {"name": "owner", "namespace": "default"}})
    reference = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    config = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default", "ownerReferences": [reference]},
        "spec": {"size": 1, "tags": ["a"]},
    }
    applied = [
        store.patch(
            "example.com/v1", "Widget", "w", config, APPLY_PATCH, "default", field_manager="ctl", force=True
        )
    ]
    store.patch(
        "example.com/v1", "Widget", "w", {"status": {"ready": 1}}, MERGE_PATCH, "default",
        subresource="status", field_manager="ctl",
    )  # fmt: skip
    for _ in range(3):
        applied.append(
            store.patch(
                "example.com/v1",
                "Widget",
                "w",
                config,
                APPLY_PATCH,
                "default",
                field_manager="ctl",
                force=True,
            )
        )
    assert [a["metadata"]["ownerReferences"] for a in applied] == [[reference]] * 4
    assert applied[-1]["spec"] == {"size": 1, "tags": ["a"]}
    assert applied[-1]["metadata"]["resourceVersion"] == applied[1]["metadata"]["resourceVersion"]
    [entry] = [e for e in applied[-1]["metadata"]["managedFields"] if e["operation"] == "Apply"]
    uid_key = 'k:{"uid":"' + owner["metadata"]["uid"] + '"}'
    assert uid_key in entry["fieldsV1"]["f:metadata"]["f:ownerReferences"]
    assert entry["fieldsV1"]["f:spec"]["f:tags"] == {}  # a custom resource's own lists stay atomic


# ------------------------------------------------------------------------------------------------ delete
def test_delete_without_finalizers_removes(store: Store) -> None:
    store.create("v1", "ConfigMap", {"metadata": {"name": "c"}})
    gone = store.delete("v1", "ConfigMap", "c")
    assert gone["metadata"]["name"] == "c"
    with pytest.raises(NotFound):
        store.get("v1", "ConfigMap", "c")


def test_finalizers_hold_the_object_until_the_last_goes(store: Store, clock: FakeClock) -> None:
    store.create("v1", "ConfigMap", {"metadata": {"name": "c", "finalizers": ["a.io/x", "b.io/y"]}})
    marked = store.delete("v1", "ConfigMap", "c", grace_period_seconds=10)
    # only Pods have a grace period; other kinds are marked for deletion now, as in kube
    assert marked["metadata"]["deletionTimestamp"] == "2026-01-02T03:04:05Z"
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 0
    again = store.delete("v1", "ConfigMap", "c")  # idempotent while being deleted
    assert again["metadata"]["resourceVersion"] == marked["metadata"]["resourceVersion"]
    marked["metadata"]["finalizers"] = ["b.io/y", "c.io/new"]
    with pytest.raises(Invalid, match="no new finalizers can be added"):
        store.update("v1", "ConfigMap", marked)
    marked["metadata"]["finalizers"] = ["b.io/y"]
    kept = store.update("v1", "ConfigMap", marked)
    assert kept["metadata"]["finalizers"] == ["b.io/y"]
    kept["metadata"]["finalizers"] = []
    store.update("v1", "ConfigMap", kept)
    with pytest.raises(NotFound):
        store.get("v1", "ConfigMap", "c")


@pytest.mark.parametrize(
    ("preconditions", "message"),
    [
        ({"uid": "nope"}, "Precondition failed: UID in precondition: nope"),
        ({"resourceVersion": "1"}, "Precondition failed: ResourceVersion in precondition: 1"),
    ],
)
def test_delete_preconditions(store: Store, preconditions: dict[str, str], message: str) -> None:
    store.create("v1", "ConfigMap", {"metadata": {"name": "c"}})
    with pytest.raises(Conflict, match=message):
        store.delete("v1", "ConfigMap", "c", preconditions=preconditions)


@pytest.mark.parametrize(
    ("propagation", "finalizer"), [("Foreground", "foregroundDeletion"), ("Orphan", "orphan")]
)
def test_propagation_adds_gc_finalizers(store: Store, propagation: str, finalizer: str) -> None:
    store.create("apps/v1", "Deployment", deployment("web"))
    out = store.delete("apps/v1", "Deployment", "web", propagation=propagation)
    assert out["metadata"]["finalizers"] == [finalizer]
    assert out["metadata"]["deletionTimestamp"]


def test_namespace_deletion_goes_terminating_and_default_is_protected(store: Store) -> None:
    store.create("v1", "Namespace", {"metadata": {"name": "team"}})
    out = store.delete("v1", "Namespace", "team")
    assert out["status"]["phase"] == "Terminating"
    assert out["spec"]["finalizers"] == ["kubernetes"]
    with pytest.raises(
        Forbidden, match='namespaces "default" is forbidden: this namespace may not be deleted'
    ):
        store.delete("v1", "Namespace", "default")


def test_delete_collection(store: Store) -> None:
    for name, app in [("a", "web"), ("b", "web"), ("c", "db")]:
        store.create("v1", "Pod", pod(name, app=app))
    deleted = store.delete_collection("v1", "Pod", "default", label_selector="app=web")
    assert sorted(d["metadata"]["name"] for d in deleted) == ["a", "b"]
    assert [p["metadata"]["name"] for p in store.list("v1", "Pod")[0]] == ["c"]


# ------------------------------------------------------------------------------------------------ watch
def test_watch_without_resource_version_starts_with_added(store: Store) -> None:
    store.create("v1", "Pod", pod("a"))
    watch = store.watch("v1", "Pod", "default")
    store.create("v1", "Pod", pod("b"))
    store.delete("v1", "Pod", "a")
    events = [(e.type, e.object["metadata"]["name"]) for e in watch.drain()]
    assert events == [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a")]


def test_watch_replays_after_resource_version(store: Store) -> None:
    store.create("v1", "Pod", pod("a"))
    rv = store.list("v1", "Pod")[1]
    store.create("v1", "Pod", pod("b"))
    store.create("v1", "ConfigMap", {"metadata": {"name": "other-kind"}})
    store.delete("v1", "Pod", "a")
    watch = store.watch("v1", "Pod", resource_version=rv)
    events = [
        (e.type, e.object["metadata"]["name"], int(e.object["metadata"]["resourceVersion"]))
        for e in watch.drain()
    ]
    assert [(t, n) for t, n, _ in events] == [("ADDED", "b"), ("DELETED", "a")]
    assert all(v > int(rv) for _, _, v in events)
    assert events[-1][2] == store.resource_version


def test_watch_from_compacted_version_is_gone(store: Store) -> None:
    store.create("v1", "Pod", pod("a"))
    old = store.resource_version
    store.create("v1", "Pod", pod("b"))
    store.compact()
    with pytest.raises(Gone) as err:
        store.watch("v1", "Pod", resource_version=str(old - 1))
    assert err.value.message == f"too old resource version: {old - 1} ({store.resource_version})"
    assert err.value.to_status()["reason"] == "Expired" and err.value.code == 410


def test_bounded_history_compacts(clock: FakeClock) -> None:
    store = Store(history_limit=5, clock=clock)
    for i in range(10):
        store.create("v1", "ConfigMap", {"metadata": {"name": f"c{i}"}})
    assert store.compacted_revision == store.resource_version - 5
    with pytest.raises(Gone):
        store.watch("v1", "ConfigMap", resource_version=str(store.compacted_revision - 1))
    assert len(store.watch("v1", "ConfigMap", resource_version=str(store.compacted_revision)).drain()) == 5


def test_watch_with_selector_sends_added_and_deleted_on_transitions(store: Store) -> None:
    store.create("v1", "Pod", pod("a", app="web"))
    watch = store.watch("v1", "Pod", label_selector="app=web", resource_version=str(store.resource_version))
    store.patch("v1", "Pod", "a", {"metadata": {"labels": {"app": "db"}}}, MERGE_PATCH)
    store.patch("v1", "Pod", "a", {"metadata": {"labels": {"app": "web"}}}, MERGE_PATCH)
    assert [e.type for e in watch.drain()] == ["DELETED", "ADDED"]


async def test_watch_async_iteration_bookmarks_and_close(store: Store) -> None:
    store.bookmark_interval = 0.01
    watch = store.watch("v1", "Pod", allow_bookmarks=True)
    store.create("v1", "Pod", pod("a"))
    first = await anext(watch)
    assert first.type == "ADDED"
    bookmark = await asyncio.wait_for(anext(watch), 1)
    assert bookmark.type == "BOOKMARK"
    assert bookmark.object == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": str(store.resource_version)},
    }
    assert store.drop_watches() == 1
    assert [e async for e in watch] == []


# ------------------------------------------------------------------------------------------------ snapshot
def test_snapshot_round_trip_keeps_objects_and_counter(store: Store, tmp_path: Path) -> None:
    store.create("v1", "ConfigMap", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    path = tmp_path / "sim.json"
    store.save(path)
    restored = Store.from_snapshot(json.loads(path.read_text()))
    assert restored.get("v1", "ConfigMap", "c") == store.get("v1", "ConfigMap", "c")
    assert restored.resource_version == store.resource_version
    nxt = restored.create("v1", "ConfigMap", {"metadata": {"name": "d"}})
    assert int(nxt["metadata"]["resourceVersion"]) == store.resource_version + 1
    with pytest.raises(Gone):  # history does not survive a restart
        restored.watch("v1", "ConfigMap", resource_version="1")
    other = Store()
    other.load(path)
    assert other.get("v1", "ConfigMap", "c")["data"] == {"a": "1"}


def test_update_without_defaults_keeps_generation_and_cluster_ip(store: Store) -> None:
    created = store.create("apps/v1", "Deployment", deployment("web"))
    bare = deployment("web")
    bare["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    again = store.update("apps/v1", "Deployment", bare)
    assert again["metadata"]["generation"] == 1 and again["spec"]["strategy"]["type"] == "RollingUpdate"
    svc = store.create("v1", "Service", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}})
    updated = store.update("v1", "Service", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 81}]}})
    assert updated["spec"]["clusterIP"] == svc["spec"]["clusterIP"]


@pytest.mark.parametrize(("graceful", "stays"), [(True, True), (False, False)])
def test_bound_pod_deletion_grace(store: Store, graceful: bool, stays: bool) -> None:
    store.graceful_pod_deletion = graceful
    bound = pod("p")
    bound["spec"]["nodeName"] = "n1"
    store.create("v1", "Pod", bound)
    out = store.delete("v1", "Pod", "p", grace_period_seconds=5)
    if stays:  # the kubelet finishes a graceful deletion with grace 0
        assert out["metadata"]["deletionTimestamp"] == "2026-01-02T03:04:10Z"
        assert out["metadata"]["deletionGracePeriodSeconds"] == 5
        assert (
            store.delete("v1", "Pod", "p")["metadata"]["resourceVersion"]
            == out["metadata"]["resourceVersion"]
        )
        store.delete("v1", "Pod", "p", grace_period_seconds=0)
    with pytest.raises(NotFound):
        store.get("v1", "Pod", "p")


def test_bound_pod_with_finalizer_gets_its_grace_period(store: Store) -> None:
    bound = pod("p")
    bound["spec"]["nodeName"] = "n1"
    bound["metadata"]["finalizers"] = ["x.io/keep"]
    store.create("v1", "Pod", bound)
    out = store.delete("v1", "Pod", "p")
    assert out["metadata"]["deletionGracePeriodSeconds"] == 30


def test_server_side_apply_conflict_is_409_with_causes(store: Store) -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    store.patch("v1", "ConfigMap", "c", config, APPLY_PATCH, field_manager="alice")
    config["data"] = {"a": "2"}
    with pytest.raises(Conflict) as err:
        store.patch("v1", "ConfigMap", "c", config, APPLY_PATCH, field_manager="bob")
    assert err.value.message == 'Apply failed with 1 conflict: conflict with "alice" using v1: .data.a'
    assert err.value.to_status()["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alice" using v1', "field": ".data.a"}
    ]
    forced = store.patch("v1", "ConfigMap", "c", config, APPLY_PATCH, field_manager="bob", force=True)
    assert forced["data"] == {"a": "2"}


def test_uncopied_reads_share_the_stored_object_and_copies_do_not(store: Store) -> None:
    store.create("v1", "ConfigMap", {"metadata": {"name": "c"}})
    shared = store.get("v1", "ConfigMap", "c", copy=False)
    assert shared is store.list("v1", "ConfigMap", copy=False)[0][0]
    assert store.get("v1", "ConfigMap", "c") is not shared and store.get("v1", "ConfigMap", "c") == shared


def test_uncopied_writes_answer_with_the_stored_object_and_copies_do_not(store: Store) -> None:
    created = store.create("v1", "ConfigMap", {"metadata": {"name": "c"}, "data": {"a": "1"}}, copy=False)
    assert created is store.get("v1", "ConfigMap", "c", copy=False)
    body = {**created, "data": {"a": "2"}}
    updated = store.update("v1", "ConfigMap", body, copy=False)
    assert updated is store.get("v1", "ConfigMap", "c", copy=False) and updated["data"] == {"a": "2"}
    assert created["data"] == {"a": "1"}  # the object it replaced is left as it was
    unchanged = store.update("v1", "ConfigMap", dict(updated), copy=False)  # a no-op write commits nothing
    assert unchanged is updated
    copied = store.update("v1", "ConfigMap", {**updated, "data": {"a": "3"}})
    assert copied is not store.get("v1", "ConfigMap", "c", copy=False)
    assert copied == store.get("v1", "ConfigMap", "c", copy=False)
