"""Door 2: raw bodies and query parameters sent straight to the API server.

Malformed JSON and YAML, JSON of the wrong shape, huge and odd values, unknown fields, bad JSON/merge/
strategic/apply patches and bad list parameters (labelSelector, fieldSelector, resourceVersion, limit,
continue). Each must be answered 2xx or 4xx with a kube Status that says what was wrong; never a 5xx.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from integration.fuzz.support import Door, door_for, fuzz_settings, run_in_thread
from kaito.sim.cluster import Cluster

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
TARGET = "fuzz-target"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
keys = st.sampled_from(
    ["apiVersion", "kind", "metadata", "data", "binaryData", "immutable", "spec", "status", "items", "x"]
)
metadata_keys = st.sampled_from(
    [
        "name",
        "namespace",
        "labels",
        "annotations",
        "resourceVersion",
        "generateName",
        "finalizers",
        "ownerReferences",
        "uid",
        "managedFields",
        "deletionTimestamp",
        "creationTimestamp",
        "generation",
        "unknownField",
    ]
)
names = st.one_of(
    st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True),
    st.text(max_size=30),
    st.just("x" * 300),
    st.just("a..b"),
    st.just("UPPER"),
)


@st.composite
def mutated_configmaps(draw: st.DrawFn) -> dict[str, Any]:
    """A valid ConfigMap with some fields replaced by random values (wrong types, unknown fields, names)."""
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": draw(names), "labels": {"app": "fuzz"}},
        "data": {"key": "value"},
    }
    for _ in range(draw(st.integers(0, 3))):
        obj[draw(keys)] = draw(json_values)
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        for _ in range(draw(st.integers(0, 3))):
            metadata[draw(metadata_keys)] = draw(json_values | names)
    return obj


def huge_values() -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "huge"},
                "data": {"k": "v" * 2_000_000},
            },
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"}, "data": {"k": "["}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n", "generation": 10**30}},
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "many", "labels": {f"k{i}": "v" for i in range(3000)}},
            },
        ]
    )


bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200),
    json_values.map(json.dumps),
    mutated_configmaps().map(json.dumps),
    mutated_configmaps().map(lambda obj: json.dumps(obj)[: len(json.dumps(obj)) // 2]),  # truncated
    st.just("[" * 5000 + "]" * 5000),  # deep nesting
    st.just('{"a":' * 3000 + "1" + "}" * 3000),
    huge_values().map(json.dumps),
)
yaml_bodies = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\ndata: {a: !!binary aGk=}\n",
            "a: &a [*a]\n",
            "- &x [*x, *x]\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [1, 2]\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\ndata: {a: 2001-12-14t21:59:43.10-05:00}\n",
            "!!python/object/apply:os.system ['true']\n",
            "---\n---\n",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\ndata: {? [a, b] : c}\n",
            "{a: .nan, b: .inf}",
        ]
    ),
    mutated_configmaps().map(json.dumps),
)


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"workloads": False, "arm": False}


def _ensure_target(door: Door) -> None:
    body = json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": TARGET}, "data": {"a": "b"}}
    )
    response = door.http.post(CONFIGMAPS, data=body, headers={"Content-Type": "application/json"})
    assert response.status_code in (201, 409), response.text


async def test_malformed_and_odd_bodies_are_answered_4xx_or_accepted(cluster: Cluster) -> None:
    door = door_for(cluster, "raw bodies: create/update")

    @fuzz_settings(1500)
    @given(body=bodies, method=st.sampled_from(["POST", "PUT"]))
    @example(body="null", method="POST")
    @example(body="[" * 5000 + "]" * 5000, method="POST")  # found: RecursionError, a 500
    @example(body='{"metadata": {"labels": "x"}, "data": {}}', method="POST")  # found: AttributeError, a 500
    @example(body='{"":"","metadata":"0"}', method="POST")  # found: AttributeError, a 500
    @example(body='{"apiVersion": "v1", "kind": "ConfigMap", "metadata": []}', method="PUT")
    def run(body: str | bytes, method: str) -> None:
        path = CONFIGMAPS if method == "POST" else f"{CONFIGMAPS}/{TARGET}"
        if method == "PUT":
            _ensure_target(door)
        door.send(method, path, body=body)

    try:
        await run_in_thread(run)
    finally:
        door.close()


async def test_yaml_bodies_are_answered_4xx_or_accepted(cluster: Cluster) -> None:
    door = door_for(cluster, "raw bodies: yaml")

    @fuzz_settings(600)
    @given(body=yaml_bodies)
    @example(body="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\ndata: {a: !!binary aGk=}\n")  # found
    @example(body='{08,"metadata":[0],08:{}}')  # found: a list as metadata, a 500
    def run(body: str) -> None:
        door.send("POST", CONFIGMAPS, body=body, content_type="application/yaml")

    try:
        await run_in_thread(run)
    finally:
        door.close()


PATCH_TYPES = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}
ops = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "nope"])},
    optional={
        "path": st.sampled_from(
            ["/data/a", "/data", "/metadata/name", "/metadata/labels/x", "/-", "", "/data/~2", "x"]
        )
        | st.text(max_size=20),
        "from": st.sampled_from(["/data/a", "/metadata", "/nowhere"]) | st.text(max_size=10),
        "value": json_values,
    },
)
patch_bodies = st.one_of(
    st.lists(ops, max_size=4).map(json.dumps),
    json_values.map(json.dumps),
    mutated_configmaps().map(json.dumps),
    st.fixed_dictionaries(
        {"$patch": st.sampled_from(["delete", "replace", "merge", "bogus"])},
        optional={"data": json_values, "$retainKeys": json_values, "$setElementOrder/data": json_values},
    ).map(json.dumps),
    st.text(max_size=100),
)


async def test_bad_patches_are_answered_4xx_or_accepted(cluster: Cluster) -> None:
    door = door_for(cluster, "raw bodies: patches")
    await run_in_thread(lambda: _ensure_target(door))  # blocking HTTP: never on the cluster's own loop

    @fuzz_settings(2500)
    @given(body=patch_bodies, kind=st.sampled_from(sorted(PATCH_TYPES)), force=st.booleans())
    @example(body='[{"op": "move", "from": "/data", "path": "/data/a"}]', kind="json", force=False)
    @example(body='[{"op": "add", "path": "0"}]', kind="json", force=False)  # found: JsonPointerException
    @example(body='{"":"","$retainKeys":[[]]}', kind="strategic", force=False)  # found: a 500
    @example(body='{"apiVersion": [null], "kind": "ConfigMap"}', kind="apply", force=False)  # found: a 500
    @example(body='[{"op": "add", "path": "/metadata/labels/x", "value": 1}]', kind="json", force=False)
    def run(body: str, kind: str, force: bool) -> None:
        params = {"fieldManager": "fuzz"} if kind == "apply" else {}
        if force:
            params["force"] = "true"
        response = door.send(
            "PATCH", f"{CONFIGMAPS}/{TARGET}", body=body, content_type=PATCH_TYPES[kind], params=params
        )
        if response.status_code == 404:
            _ensure_target(door)

    try:
        await run_in_thread(run)
    finally:
        door.close()


selector_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "a=b",
            "a!=b",
            "a in (b,c)",
            "a notin (b)",
            "!a",
            "a",
            "a==b,c",
            "a in (",
            "=",
            ",,",
            "a=b=c",
            "a in ()",
        ]
    ),
    st.lists(
        st.sampled_from(["a", "=", "!", "in", "(", ")", ",", " ", "b", "notin", "==", "x.y/z"]), max_size=8
    ).map("".join),
)
field_selector_text = st.one_of(
    selector_text,
    st.sampled_from(
        ["metadata.name=x", "metadata.namespace!=y", "spec.nodeName=", "status.phase=Running", "x=y"]
    ),
)
number_text = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.text(max_size=12),
    st.sampled_from(["", "0", "-1", "1e3", "NaN"]),
)
list_params = st.fixed_dictionaries(
    {},
    optional={
        "labelSelector": selector_text,
        "fieldSelector": field_selector_text,
        "resourceVersion": number_text,
        "resourceVersionMatch": st.sampled_from(["NotOlderThan", "Exact", "bogus", ""]),
        "limit": number_text,
        "continue": st.text(max_size=40) | st.binary(max_size=30).map(lambda b: b.hex()),
        "timeoutSeconds": number_text,
        "pretty": st.text(max_size=5),
    },
)


async def test_bad_list_parameters_are_answered_4xx_or_listed(cluster: Cluster) -> None:
    door = door_for(cluster, "raw bodies: list parameters")
    await run_in_thread(lambda: _ensure_target(door))  # blocking HTTP: never on the cluster's own loop

    @fuzz_settings(2500)
    @given(params=list_params, path=st.sampled_from([CONFIGMAPS, "/api/v1/configmaps", "/api/v1/namespaces"]))
    @example(params={"continue": "eyJ4IjogMX0="}, path=CONFIGMAPS)
    @example(params={"limit": "1", "resourceVersion": "0"}, path=CONFIGMAPS)
    def run(params: dict[str, str], path: str) -> None:
        door.send("GET", path, params={k: v.replace("\x00", "") for k, v in params.items()})

    try:
        await run_in_thread(run)
    finally:
        door.close()
