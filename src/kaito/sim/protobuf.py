"""Decoding the Kubernetes protobuf request bodies that kubectl sends, for the kinds it sends them for.

kubectl's typed clients (``kubectl create namespace|configmap|secret|serviceaccount``) encode request bodies
as ``application/vnd.kubernetes.protobuf`` and client-go has no JSON fallback, so the server must read them.
Answers stay JSON, which every client accepts.

Wire form: the 4-byte magic ``k8s\\0``, then a ``runtime.Unknown`` message (typeMeta = 1 {apiVersion = 1,
kind = 2}, raw = 2, contentEncoding = 3, contentType = 4) whose ``raw`` is the object's own message. Objects
are decoded with the field numbers of ``k8s.io/api`` generated.proto, written down in :data:`_SCHEMAS` for the
kinds above and ``ObjectMeta``; any other kind gets :class:`UnsupportedKind`, which the server turns into a
415 naming the way out (``kubectl apply``, which sends JSON). Go's encoder writes zero values too; like the
JSON encoder's ``omitempty``, empty strings, empty collections and zero timestamps are dropped.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

__all__ = ["MAGIC", "MEDIA_TYPE", "ProtobufError", "UnsupportedKind", "decode_object"]

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"


class ProtobufError(ValueError):
    """The body is not a well-formed Kubernetes protobuf envelope."""


class UnsupportedKind(ProtobufError):
    """The envelope holds a kind whose message layout this server does not know."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(
            f"{kind} ({api_version}) sent as protobuf cannot be decoded by kaito-sim, which reads "
            f"protobuf only for {', '.join(sorted(k for _, k in _KINDS))}; "
            "send JSON instead (for example `kubectl apply -f`)"
        )
        self.api_version, self.kind = api_version, kind


# A field spec: (json name, type). Types: "string", "bytes" (base64 in JSON), "int", "bool", "time",
# ("message", schema), ("map", value type), ("repeated", element type).
_Schema = dict[int, tuple[str, Any]]

_TYPE_META: _Schema = {1: ("apiVersion", "string"), 2: ("kind", "string")}
_UNKNOWN: _Schema = {
    1: ("typeMeta", ("message", _TYPE_META)),
    2: ("raw", "raw"),
    4: ("contentType", "string"),
}
_OWNER_REFERENCE: _Schema = {
    1: ("kind", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("controller", "bool"),
    7: ("blockOwnerDeletion", "bool"),
}
_OBJECT_META: _Schema = {
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    5: ("uid", "string"),
    6: ("resourceVersion", "string"),
    7: ("generation", "int"),
    8: ("creationTimestamp", "time"),
    9: ("deletionTimestamp", "time"),
    10: ("deletionGracePeriodSeconds", "int"),
    11: ("labels", ("map", "string")),
    12: ("annotations", ("map", "string")),
    13: ("ownerReferences", ("repeated", ("message", _OWNER_REFERENCE))),
    14: ("finalizers", ("repeated", "string")),
}
_OBJECT_REFERENCE: _Schema = {
    1: ("kind", "string"),
    2: ("namespace", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("resourceVersion", "string"),
    7: ("fieldPath", "string"),
}
_META = ("metadata", ("message", _OBJECT_META))
_SCHEMAS: dict[tuple[str, str], _Schema] = {
    ("v1", "ConfigMap"): {
        1: _META,
        2: ("data", ("map", "string")),
        3: ("binaryData", ("map", "bytes")),
        4: ("immutable", "bool"),
    },
    ("v1", "Secret"): {
        1: _META,
        2: ("data", ("map", "bytes")),
        3: ("type", "string"),
        4: ("stringData", ("map", "string")),
        5: ("immutable", "bool"),
    },
    ("v1", "Namespace"): {
        1: _META,
        2: ("spec", ("message", {1: ("finalizers", ("repeated", "string"))})),
    },
    ("v1", "ServiceAccount"): {
        1: _META,
        2: ("secrets", ("repeated", ("message", _OBJECT_REFERENCE))),
        3: ("imagePullSecrets", ("repeated", ("message", {1: ("name", "string")}))),
        4: ("automountServiceAccountToken", "bool"),
    },
}
_KINDS = frozenset(_SCHEMAS)


def decode_object(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object (``apiVersion`` and ``kind`` included)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf magic bytes k8s\\0")
    envelope = _message(body[len(MAGIC) :], _UNKNOWN)
    type_meta = envelope.get("typeMeta") or {}
    api_version, kind = str(type_meta.get("apiVersion", "")), str(type_meta.get("kind", ""))
    schema = _SCHEMAS.get((api_version, kind))
    if schema is None:
        raise UnsupportedKind(api_version, kind)
    obj = _message(envelope.get("raw", b""), schema)
    return {"apiVersion": api_version, "kind": kind, **obj}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("the protobuf body ends inside a varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, raw value) in order; varints as int, length-delimited as bytes."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    value: Any
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError(f"field {number} is longer than the protobuf body")
            value, pos = data[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = int.from_bytes(data[pos : pos + 8], "little"), pos + 8
        elif wire == 5:
            value, pos = int.from_bytes(data[pos : pos + 4], "little"), pos + 4
        else:
            raise ProtobufError(f"field {number} has wire type {wire}, which Kubernetes messages do not use")
        out.append((number, wire, value))
    return out


def _message(data: bytes, schema: _Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, _wire, raw in _fields(data):
        spec = schema.get(number)
        if spec is None:
            continue  # a field this server does not read (managedFields, status)
        name, kind = spec
        if isinstance(kind, tuple) and kind[0] == "repeated":
            out.setdefault(name, []).append(_value(raw, kind[1]))
        elif isinstance(kind, tuple) and kind[0] == "map":
            entry = {n: v for n, _w, v in _fields(raw)}
            key = entry.get(1, b"").decode()
            out.setdefault(name, {})[key] = _value(entry.get(2, b""), kind[1])
        else:
            out[name] = _value(raw, kind)
    return {
        k: v for k, v in out.items() if v not in ("", None, [], {}) and not (k == "generation" and v == 0)
    }


def _value(raw: Any, kind: Any) -> Any:
    if kind == "raw":
        return raw
    if kind == "string":
        return raw.decode()
    if kind == "bytes":
        return base64.b64encode(raw).decode()
    if kind == "int":
        return raw - (1 << 64) if raw >= 1 << 63 else raw
    if kind == "bool":
        return bool(raw)
    if kind == "time":
        seconds = {n: v for n, _w, v in _fields(raw)}.get(1, 0)
        if not seconds:
            return None
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(kind, tuple) and kind[0] == "message":
        return _message(raw, kind[1])
    raise ProtobufError(f"unknown field type {kind!r}")
