"""Server-side Table printing: ages, kube's computed columns, and the Table shape kubectl reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kaito.sim.server.printing import (
    column_definitions,
    human_duration,
    include_object,
    table_for,
    wants_table,
)
from kaito.sim.server.resources import BUILTIN_TYPES, ResourceType

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _stamp(ago: timedelta) -> str:
    return (NOW - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


def _builtin(kind: str) -> ResourceType:
    return next(rt for rt in BUILTIN_TYPES if rt.kind == kind)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (185, "3m5s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600 + 600, "3h10m"),
        (5 * 3600, "5h"),
        (30 * 3600, "30h"),
        (4 * 86400 + 2 * 3600, "4d2h"),
        (3 * 86400, "3d"),
        (100 * 86400, "100d"),
        (3 * 365 * 86400 + 10 * 86400, "3y10d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration_matches_kubectl(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("accept", "table"),
    [
        (
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
            True,
        ),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", True),
        ("application/json", False),
        ("", False),
        ("application/json, application/json;as=Table;v=v1;g=meta.k8s.io", False),
        ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", False),
    ],
)
def test_wants_table_reads_the_accept_header_in_order(accept: str, table: bool) -> None:
    assert wants_table(accept) is table


def test_include_object_defaults_to_metadata_and_rejects_unknown_values() -> None:
    assert include_object(None) == "Metadata"
    assert include_object("Object") == "Object"
    with pytest.raises(ValueError, match='includeObject "Everything"'):
        include_object("Everything")


def _pod(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web-0",
            "namespace": "default",
            "creationTimestamp": _stamp(timedelta(minutes=5)),
        },
        "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "node-1"},
        "status": {"phase": "Running", "podIP": "10.0.0.7", **status},
    }


def _cells(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    table = table_for(rt, [obj], now=NOW)
    names = [c["name"] for c in table["columnDefinitions"]]
    return dict(zip(names, table["rows"][0]["cells"], strict=True))


@pytest.mark.parametrize(
    ("status", "ready", "state", "restarts"),
    [
        ({"containerStatuses": [{"ready": True, "state": {"running": {}}}] * 2}, "2/2", "Running", 0),
        (
            {"containerStatuses": [{"ready": False, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]},
            "0/2",
            "ImagePullBackOff",
            0,
        ),
        (
            {
                "containerStatuses": [
                    {
                        "ready": False,
                        "restartCount": 4,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {
                            "terminated": {"exitCode": 1, "finishedAt": _stamp(timedelta(seconds=30))}
                        },
                    }
                ]
            },
            "0/2",
            "CrashLoopBackOff",
            "4 (30s ago)",
        ),
        ({"phase": "Pending", "containerStatuses": []}, "0/2", "Pending", 0),
        (
            {"phase": "Succeeded", "containerStatuses": [{"state": {"terminated": {"reason": "Completed"}}}]},
            "0/2",
            "Completed",
            0,
        ),
    ],
)
def test_pod_columns_are_computed_like_kubectl(
    status: dict[str, Any], ready: str, state: str, restarts: Any
) -> None:
    cells = _cells(_builtin("Pod"), _pod(**status))
    assert (cells["Ready"], cells["Status"], cells["Restarts"]) == (ready, state, restarts)
    assert cells["Age"] == "5m"
    assert (cells["IP"], cells["Node"], cells["Nominated Node"], cells["Readiness Gates"]) == (
        "10.0.0.7",
        "node-1",
        "<none>",
        "<none>",
    )


def test_terminating_pod_shows_terminating() -> None:
    pod = _pod()
    pod["metadata"]["deletionTimestamp"] = _stamp(timedelta(seconds=1))
    assert _cells(_builtin("Pod"), pod)["Status"] == "Terminating"


def test_wide_columns_carry_priority_so_kubectl_hides_them_without_o_wide() -> None:
    defs = {c["name"]: c for c in column_definitions(_builtin("Pod"))}
    assert defs["Name"]["format"] == "name"
    assert defs["Ready"]["priority"] == 0 and defs["Ready"]["format"] == ""
    assert defs["IP"]["priority"] == 1 and defs["Node"]["priority"] == 1


@pytest.mark.parametrize(
    ("kind", "obj", "column", "value"),
    [
        (
            "Node",
            {
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
                "spec": {"unschedulable": True},
            },
            "Status",
            "Ready,SchedulingDisabled",
        ),
        ("Node", {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}, "Status", "NotReady"),
        ("Node", {"metadata": {"labels": {"node-role.kubernetes.io/gpu": ""}}}, "Roles", "gpu"),
        (
            "Node",
            {"status": {"addresses": [{"type": "InternalIP", "address": "10.1.0.4"}]}},
            "Internal-IP",
            "10.1.0.4",
        ),
        (
            "Service",
            {"spec": {"ports": [{"port": 80}, {"port": 443, "nodePort": 30443}]}},
            "Port(s)",
            "80/TCP,443:30443/TCP",
        ),
        ("Service", {"spec": {"type": "LoadBalancer"}}, "External-IP", "<pending>"),
        ("Service", {"spec": {"selector": {"app": "web"}}}, "Selector", "app=web"),
        ("ConfigMap", {"data": {"a": "1", "b": "2"}}, "Data", 2),
        ("Event", {"involvedObject": {"kind": "Pod", "name": "web-0"}}, "Object", "pod/web-0"),
        ("Deployment", {"spec": {"replicas": 3}, "status": {"readyReplicas": 2}}, "Ready", "2/3"),
        ("Deployment", {"spec": {"replicas": 3}}, "Up-to-date", 0),
        ("Deployment", {"spec": {"replicas": 3}}, "Available", 0),
        (
            "Deployment",
            {"spec": {"template": {"spec": {"containers": [{"image": "a"}, {"image": "b"}]}}}},
            "Images",
            "a,b",
        ),
        ("StatefulSet", {"spec": {"replicas": 1}}, "Ready", "0/1"),
        ("ReplicaSet", {"spec": {"replicas": 2}}, "Current", 0),
        ("ReplicaSet", {"spec": {"replicas": 2}}, "Ready", 0),
        ("Job", {"spec": {"completions": 2}}, "Completions", "0/2"),
        ("Event", {"involvedObject": {"kind": "Pod", "name": "p"}}, "Count", 0),
        (
            "Job",
            {
                "status": {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1},
                "spec": {"completions": 1},
            },
            "Status",
            "Complete",
        ),
        ("Job", {"status": {"succeeded": 1}, "spec": {"completions": 3}}, "Completions", "1/3"),
        (
            "Job",
            {
                "status": {
                    "startTime": _stamp(timedelta(minutes=3)),
                    "completionTime": _stamp(timedelta(minutes=1)),
                }
            },
            "Duration",
            "2m",
        ),
        ("RoleBinding", {"roleRef": {"kind": "Role", "name": "r"}}, "Role", "Role/r"),
    ],
)
def test_builtin_computed_columns(kind: str, obj: dict[str, Any], column: str, value: Any) -> None:
    obj = {"metadata": {"name": "x"}, **obj}
    assert _cells(_builtin(kind), obj)[column] == value


WIDGETS = ResourceType(
    "example.com",
    "v1",
    "Widget",
    "widgets",
    "widget",
    True,
    custom=True,
    printer_columns=(
        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
        {"name": "On", "type": "boolean", "jsonPath": ".spec.on"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        {"name": "Names", "type": "string", "jsonPath": ".spec.items[*].name", "priority": 1},
    ),
)


def test_crd_columns_are_typed_and_missing_values_stay_blank() -> None:
    widget = {
        "metadata": {"name": "w", "creationTimestamp": _stamp(timedelta(hours=2, minutes=3))},
        "spec": {"size": 3, "ratio": 1, "on": "yes", "items": [{"name": "a"}, {"name": "b"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }
    assert _cells(WIDGETS, widget) == {
        "Name": "w",
        "Size": 3,
        "Ready": "True",
        "Ratio": 1.0,
        "On": None,  # not a boolean: kube leaves the cell empty
        "Age": "123m",
        "Names": "a",  # CRD columns print the first result only
    }
    bare = {"metadata": {"name": "w"}}
    assert _cells(WIDGETS, bare)["Size"] is None and _cells(WIDGETS, bare)["Age"] is None


def test_type_without_columns_gets_age() -> None:
    rt = ResourceType("example.com", "v1", "Gadget", "gadgets", "gadget", False, custom=True)
    table = table_for(
        rt, [{"metadata": {"name": "g", "creationTimestamp": _stamp(timedelta(seconds=9))}}], now=NOW
    )
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["rows"][0]["cells"] == ["g", "9s"]


@pytest.mark.parametrize(
    ("include", "expected"),
    [
        (
            "Metadata",
            {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": {"name": "g"}},
        ),
        ("Object", {"metadata": {"name": "g"}, "spec": {"size": 1}}),
        ("None", None),
    ],
)
def test_rows_carry_the_object_as_include_object_asks(include: str, expected: Any) -> None:
    table = table_for(
        WIDGETS,
        [{"metadata": {"name": "g"}, "spec": {"size": 1}}],
        now=NOW,
        include=include,
        list_meta={"resourceVersion": "7"},
    )
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "7"}
    assert table["rows"][0].get("object") == expected


def test_event_table_places_name_last_like_kube() -> None:
    event = {
        "metadata": {"name": "web.1"},
        "lastTimestamp": _stamp(timedelta(seconds=20)),
        "type": "Warning",
        "reason": "FailedScheduling",
        "involvedObject": {"kind": "Pod", "name": "web"},
        "message": "no nodes available to schedule pods",
    }
    table = table_for(_builtin("Event"), [event], now=NOW)
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names[:5] == ["Last Seen", "Type", "Reason", "Object", "Message"] and names[-1] == "Name"
    assert table["columnDefinitions"][-1]["format"] == "name"
    assert table["rows"][0]["cells"][:5] == [
        "20s",
        "Warning",
        "FailedScheduling",
        "pod/web",
        event["message"],
    ]
