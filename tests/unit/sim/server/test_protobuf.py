"""Decoding kubectl's protobuf request bodies (envelope, ObjectMeta, the supported kinds, and refusals)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from kaito.sim.server.protobuf import MAGIC, ProtobufError, UnsupportedKind, decode_object


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: Any) -> bytes:
    """Encode one field the way Go's gogo-protobuf does (ints as varints, the rest length-delimited)."""
    if isinstance(value, int):  # bools too
        return _varint(number << 3) + _varint(int(value))
    raw = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


def _map_entry(number: int, key: str, value: str | bytes) -> bytes:
    return _field(number, _field(1, key) + _field(2, value))


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _field(1, api_version) + _field(2, kind)
    return MAGIC + _field(1, type_meta) + _field(2, raw) + _field(3, "") + _field(4, "")


def _meta(name: str, namespace: str = "") -> bytes:
    zero_time = b""  # Go writes an empty Time message for a zero creationTimestamp
    return (
        _field(1, name)
        + _field(2, "")
        + _field(3, namespace)
        + _field(7, 0)
        + _field(8, zero_time)
        + _map_entry(11, "app", "web")
        + _field(14, "example.com/hold")
    )


def test_configmap_with_metadata_data_and_binary_data() -> None:
    raw = (
        _field(1, _meta("cm", "default"))
        + _map_entry(2, "a", "b")
        + _map_entry(3, "bin", b"\x00\x01")
        + _field(4, True)
    )
    assert decode_object(_envelope("v1", "ConfigMap", raw)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "cm",
            "namespace": "default",
            "labels": {"app": "web"},
            "finalizers": ["example.com/hold"],
        },
        "data": {"a": "b"},
        "binaryData": {"bin": base64.b64encode(b"\x00\x01").decode()},
        "immutable": True,
    }


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (
            "Secret",
            _field(1, _meta("s")) + _map_entry(2, "password", b"hunter2") + _field(3, "Opaque"),
            {"data": {"password": base64.b64encode(b"hunter2").decode()}, "type": "Opaque"},
        ),
        (
            "Namespace",
            _field(1, _meta("ns")) + _field(2, _field(1, "kubernetes")),
            {"spec": {"finalizers": ["kubernetes"]}},
        ),
        (
            "ServiceAccount",
            _field(1, _meta("sa")) + _field(3, _field(1, "pull")) + _field(4, False),
            {"imagePullSecrets": [{"name": "pull"}], "automountServiceAccountToken": False},
        ),
    ],
)
def test_other_kinds_kubectl_creates(kind: str, raw: bytes, expected: dict[str, Any]) -> None:
    obj = decode_object(_envelope("v1", kind, raw))
    assert obj["kind"] == kind and obj["metadata"]["labels"] == {"app": "web"}
    assert {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")} == expected


def test_pointer_zeroes_are_kept_and_value_zeroes_dropped() -> None:
    port = (
        _field(1, "http")
        + _field(3, 80)
        + _field(4, _field(1, 1) + _field(2, 0) + _field(3, "web"))
        + _field(5, 0)
    )
    spec = _field(1, port) + _field(4, "ClusterIP")
    obj = decode_object(_envelope("v1", "Service", _field(1, _meta("svc")) + _field(2, spec)))
    assert obj["spec"] == {"ports": [{"name": "http", "port": 80, "targetPort": "web"}], "type": "ClusterIP"}
    deployment_spec = _field(1, 0) + _field(5, 0) + _field(7, False)  # replicas is a pointer: 0 stays
    obj = decode_object(
        _envelope("apps/v1", "Deployment", _field(1, _meta("d")) + _field(2, deployment_spec))
    )
    assert obj["spec"] == {"replicas": 0}
    limits = _field(8, _map_entry(1, "nvidia.com/gpu", _field(1, "1")))
    pod_spec = _field(2, _field(1, "main") + _field(2, "img") + limits)
    obj = decode_object(_envelope("v1", "Pod", _field(1, _meta("p")) + _field(2, pod_spec)))
    assert obj["spec"]["containers"] == [
        {"name": "main", "image": "img", "resources": {"limits": {"nvidia.com/gpu": "1"}}}
    ]


@pytest.mark.parametrize(
    ("api_version", "raw", "expected"),
    [
        # what Helm's release storage sends to delete a release Secret: every field empty
        ("v1", b"", {}),
        (
            "apps/v1",
            _field(1, 0)
            + _field(2, _field(1, "uid-1") + _field(2, "42"))
            + _field(3, False)
            + _field(4, "Foreground")
            + _field(5, "All"),
            {
                "gracePeriodSeconds": 0,
                "preconditions": {"uid": "uid-1", "resourceVersion": "42"},
                "orphanDependents": False,
                "propagationPolicy": "Foreground",
                "dryRun": ["All"],
            },
        ),
    ],
)
def test_delete_options_from_any_group_version(
    api_version: str, raw: bytes, expected: dict[str, Any]
) -> None:
    obj = decode_object(_envelope(api_version, "DeleteOptions", raw))
    assert obj == {"apiVersion": api_version, "kind": "DeleteOptions", **expected}


def test_unknown_kind_is_refused_with_the_way_out() -> None:
    with pytest.raises(UnsupportedKind, match=r"StatefulSet \(apps/v1\) sent as protobuf .*`kubectl apply"):
        decode_object(_envelope("apps/v1", "StatefulSet", b""))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"kind": "ConfigMap"}', "magic bytes"),
        (MAGIC + _varint(1 << 3 | 2) + _varint(50) + b"short", "longer than the protobuf body"),
        (MAGIC + b"\x80", "ends inside a varint"),
        (MAGIC + _varint(1 << 3 | 3), "wire type 3"),
    ],
)
def test_malformed_bodies_are_explained(body: bytes, message: str) -> None:
    with pytest.raises(ProtobufError, match=message):
        decode_object(body)
