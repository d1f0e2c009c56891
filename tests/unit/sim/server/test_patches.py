"""Patch flavours as pure functions: RFC 7386, RFC 6902, strategic merge (merge keys, directives), apply."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.server.errors import BadRequest
from kaito.sim.server.patches import (
    PatchError,
    apply_patch,
    field_set,
    json_patch,
    merge_patch,
    record_manager,
    strategic_merge_patch,
)

POD: dict[str, Any] = {
    "metadata": {"name": "p", "finalizers": ["a"], "labels": {"x": "1"}},
    "spec": {
        "containers": [
            {
                "name": "main",
                "image": "nginx",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"containerPort": 80, "name": "http"}],
                "volumeMounts": [{"mountPath": "/data", "name": "d"}],
            }
        ],
        "tolerations": [{"key": "a", "operator": "Exists"}],
        "volumes": [{"name": "d", "emptyDir": {}}],
    },
    "status": {
        "conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]
    },
}


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [  # RFC 7386 appendix A, a selection
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ],
)
def test_merge_patch(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


def test_json_patch_and_its_errors() -> None:
    doc = {"a": [1, 2]}
    assert json_patch(doc, [{"op": "add", "path": "/a/-", "value": 3}]) == {"a": [1, 2, 3]}
    assert doc == {"a": [1, 2]}  # input untouched
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "remove", "path": "/missing"}])
    with pytest.raises(BadRequest):
        json_patch(doc, {"op": "add"})
    with pytest.raises(BadRequest):
        json_patch(doc, [{"op": "frobnicate", "path": "/a"}])


def _smp(patch: dict[str, Any]) -> dict[str, Any]:
    return strategic_merge_patch(POD, patch)


def test_a_json_patch_path_that_is_not_a_pointer_is_a_bad_request() -> None:
    """Found by the fuzz suite: jsonpatch raised JsonPointerException while parsing the patch (a 500)."""
    with pytest.raises(BadRequest, match="JSON pointers such as /data/key"):
        json_patch({"data": {}}, [{"op": "add", "path": "0", "value": 1}])


def test_smp_merges_lists_by_their_keys() -> None:
    out = _smp(
        {
            "spec": {
                "containers": [
                    {
                        "name": "main",
                        "env": [{"name": "B", "value": "22"}, {"name": "C", "value": "3"}],
                        "ports": [{"containerPort": 8080}],
                        "volumeMounts": [{"mountPath": "/data", "readOnly": True}],
                    }
                ],
                "volumes": [{"name": "e", "emptyDir": {}}],
                "tolerations": [{"key": "b", "operator": "Exists"}],
            },
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
    )
    [main] = out["spec"]["containers"]
    assert main["image"] == "nginx"
    assert main["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "22"},
        {"name": "C", "value": "3"},
    ]
    assert [p["containerPort"] for p in main["ports"]] == [80, 8080]
    assert main["volumeMounts"] == [{"mountPath": "/data", "name": "d", "readOnly": True}]
    assert [v["name"] for v in out["spec"]["volumes"]] == ["d", "e"]
    assert out["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]  # replaced, no merge key
    assert out["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "PodScheduled", "status": "True"},
    ]
    assert POD["spec"]["containers"][0]["env"][1]["value"] == "2"  # input untouched


@pytest.mark.parametrize(
    ("patch", "check"),
    [
        (
            {"spec": {"containers": [{"name": "main", "$patch": "delete"}]}},
            lambda o: o["spec"]["containers"] == [],
        ),
        (
            {"spec": {"volumes": [{"name": "z", "emptyDir": {}}, {"$patch": "replace"}]}},
            lambda o: o["spec"]["volumes"] == [{"name": "z", "emptyDir": {}}],
        ),
        (
            {"metadata": {"labels": {"$patch": "replace", "y": "2"}}},
            lambda o: o["metadata"]["labels"] == {"y": "2"},
        ),
        ({"spec": {"$patch": "delete"}}, lambda o: "spec" not in o),
        ({"metadata": {"finalizers": ["b"]}}, lambda o: o["metadata"]["finalizers"] == ["a", "b"]),
        (
            {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
            lambda o: o["metadata"]["finalizers"] == [],
        ),
        (
            {"spec": {"$retainKeys": ["containers"], "containers": [{"name": "main"}]}},
            lambda o: set(o["spec"]) == {"containers"},
        ),
        ({"metadata": {"labels": {"x": None}}}, lambda o: o["metadata"]["labels"] == {}),
    ],
)
def test_smp_directives(patch: dict[str, Any], check: Any) -> None:
    assert check(_smp(patch))


def test_smp_service_ports_merge_by_port() -> None:
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    out = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443}]}})
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 8080, "name": "http"}, {"port": 443}]


def test_smp_webhooks_merge_by_name_keeping_fields_the_patch_leaves_out() -> None:
    """What `helm upgrade` sends for a changed webhook setting: the operator's caBundle stays."""
    config = {
        "webhooks": [
            {
                "name": "v.kaito.sh",
                "clientConfig": {"caBundle": "Q0E=", "service": {"name": "s"}},
                "timeoutSeconds": 10,
            }
        ]
    }
    patch = {
        "$setElementOrder/webhooks": [{"name": "v.kaito.sh"}],
        "webhooks": [{"name": "v.kaito.sh", "timeoutSeconds": 15}],
    }
    [webhook] = strategic_merge_patch(config, patch)["webhooks"]
    assert webhook == {
        "name": "v.kaito.sh",
        "clientConfig": {"caBundle": "Q0E=", "service": {"name": "s"}},
        "timeoutSeconds": 15,
    }


def test_smp_element_without_merge_key_is_bad_request() -> None:
    with pytest.raises(BadRequest, match="does not contain declared merge key: name"):
        _smp({"spec": {"containers": [{"image": "x"}]}})


def test_apply_removes_only_fields_the_manager_stopped_applying() -> None:
    live = {"metadata": {"name": "c"}, "data": {"a": "1", "b": "2", "other": "o"}}
    record_manager(live, "ctl", "Apply", "v1", "t", None, applied={"data": {"a": "1", "b": "2"}})
    record_manager(live, "someone", "Update", "v1", "t", None, applied={"data": {"other": "o"}})
    out = apply_patch(live, {"data": {"a": "1"}}, "ctl")
    assert out["data"] == {"a": "1", "other": "o"}


def test_field_set_uses_kube_keys() -> None:
    assert field_set({"spec": {"containers": [{"name": "c", "image": "i"}], "args": ["x"]}}) == {
        "f:spec": {
            ".": {},
            "f:containers": {'k:{"name":"c"}': {".": {}, "f:name": {}, "f:image": {}}},
            "f:args": {},
        }
    }


def test_apply_conflicts_with_another_manager_unless_forced() -> None:
    from kaito.sim.server.patches import ApplyConflict

    live = {"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}
    record_manager(live, "alice", "Apply", "v1", "t", None, applied={"data": {"a": "1", "b": "2"}})
    same = apply_patch(live, {"data": {"a": "1"}}, "bob")  # same value: shared, no conflict
    assert same["data"] == {"a": "1", "b": "2"}
    with pytest.raises(ApplyConflict) as err:
        apply_patch(live, {"data": {"a": "9", "b": "8"}}, "bob")
    assert (
        str(err.value)
        == 'Apply failed with 2 conflicts: conflicts with "alice" using v1:\n- .data.a\n- .data.b'
    )
    forced = apply_patch(live, {"data": {"a": "9"}}, "bob", force=True)
    assert forced["data"]["a"] == "9"
    [alice] = forced["metadata"]["managedFields"]
    assert alice["fieldsV1"] == {"f:data": {".": {}, "f:b": {}}}  # a moved away from alice


def test_update_entries_record_only_changed_fields() -> None:
    old = {"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}
    new = {"metadata": {"name": "c"}, "data": {"a": "1", "b": "3"}}
    record_manager(new, "ctl", "Update", "v1", "t", None, previous=old)
    assert new["metadata"]["managedFields"][0]["fieldsV1"] == {"f:data": {"f:b": {}}}


@pytest.mark.parametrize(
    ("patch", "says"),
    [
        # the first was found by the fuzz suite
        ({"": "", "$retainKeys": [[]]}, r"\$retainKeys: must be a list of field names"),
        ({"$retainKeys": "data"}, r"\$retainKeys: must be a list of field names"),
        ({"$deleteFromPrimitiveList/finalizers": 3}, r"deleteFromPrimitiveList/finalizers: must be a list"),
    ],
)
def test_malformed_strategic_directives_are_bad_requests(patch: dict[str, Any], says: str) -> None:
    with pytest.raises(BadRequest, match=says):
        strategic_merge_patch({"data": {"a": "1"}}, patch)
