"""Decoding the Kubernetes protobuf request bodies that kubectl sends, for the kinds it sends them for.

kubectl's typed clients (``kubectl create namespace|configmap|secret|serviceaccount|deployment|job|service|
role|rolebinding|clusterrole|clusterrolebinding``, ``kubectl run``) encode request bodies as
``application/vnd.kubernetes.protobuf`` and client-go has no JSON fallback, so the server must read them.
Answers stay JSON, which every client accepts.

Wire form: the 4-byte magic ``k8s\\0``, then a ``runtime.Unknown`` message (typeMeta = 1 {apiVersion = 1,
kind = 2}, raw = 2, contentEncoding = 3, contentType = 4) whose ``raw`` is the object's own message. Objects
are decoded with the field numbers of ``k8s.io/api`` generated.proto, written down in :data:`_SCHEMAS` for the
kinds above and what they contain (the fields kubectl's generators fill in; others are skipped), plus the
``DeleteOptions`` body of a typed client's DELETE (Helm's release storage sends one); any other
kind gets :class:`UnsupportedKind`, which the server turns into a 415 naming the way out (``kubectl apply``,
which sends JSON). Go's protobuf encoder writes zero values too; like its JSON encoder's ``omitempty``, zero
values of non-pointer fields, empty collections and zero timestamps are dropped.
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
            f"protobuf only for {', '.join(sorted({k for _, k in _KINDS} | set(_ANY_GROUP_SCHEMAS)))}; "
            "send JSON instead (for example `kubectl apply -f`)"
        )
        self.api_version, self.kind = api_version, kind


# A field spec: (json name, type). Scalar types: "str", "bytes" (base64 in JSON), "int" and "bool" (Go values
# with omitempty: zero is dropped), "int+" and "bool+" (pointers or required: zero is kept), "time",
# "quantity" (resource.Quantity), "intorstr" (intstr.IntOrString); composite: ("message", schema),
# ("map", value type), ("repeated", element type).
_Schema = dict[int, tuple[str, Any]]


def _msg(schema: _Schema) -> tuple[str, _Schema]:
    return ("message", schema)


def _list(kind: Any) -> tuple[str, Any]:
    return ("repeated", kind)


_STR_MAP = ("map", "str")
_TYPE_META: _Schema = {1: ("apiVersion", "str"), 2: ("kind", "str")}
_UNKNOWN: _Schema = {1: ("typeMeta", _msg(_TYPE_META)), 2: ("raw", "raw"), 4: ("contentType", "str")}
_OWNER_REFERENCE: _Schema = {
    1: ("kind", "str"),
    3: ("name", "str"),
    4: ("uid", "str"),
    5: ("apiVersion", "str"),
    6: ("controller", "bool+"),
    7: ("blockOwnerDeletion", "bool+"),
}
_OBJECT_META: _Schema = {
    1: ("name", "str"),
    2: ("generateName", "str"),
    3: ("namespace", "str"),
    5: ("uid", "str"),
    6: ("resourceVersion", "str"),
    7: ("generation", "int"),
    8: ("creationTimestamp", "time"),
    9: ("deletionTimestamp", "time"),
    10: ("deletionGracePeriodSeconds", "int+"),
    11: ("labels", _STR_MAP),
    12: ("annotations", _STR_MAP),
    13: ("ownerReferences", _list(_msg(_OWNER_REFERENCE))),
    14: ("finalizers", _list("str")),
}
_META = ("metadata", _msg(_OBJECT_META))
_OBJECT_REFERENCE: _Schema = {
    1: ("kind", "str"),
    2: ("namespace", "str"),
    3: ("name", "str"),
    4: ("uid", "str"),
    5: ("apiVersion", "str"),
    6: ("resourceVersion", "str"),
    7: ("fieldPath", "str"),
}
_LOCAL_REFERENCE: _Schema = {1: ("name", "str")}
_LABEL_SELECTOR: _Schema = {
    1: ("matchLabels", _STR_MAP),
    2: (
        "matchExpressions",
        _list(_msg({1: ("key", "str"), 2: ("operator", "str"), 3: ("values", _list("str"))})),
    ),
}
_CONTAINER: _Schema = {
    1: ("name", "str"),
    2: ("image", "str"),
    3: ("command", _list("str")),
    4: ("args", _list("str")),
    5: ("workingDir", "str"),
    6: (
        "ports",
        _list(
            _msg(
                {
                    1: ("name", "str"),
                    2: ("hostPort", "int"),
                    3: ("containerPort", "int+"),
                    4: ("protocol", "str"),
                    5: ("hostIP", "str"),
                }
            )
        ),
    ),
    7: ("env", _list(_msg({1: ("name", "str"), 2: ("value", "str")}))),
    8: ("resources", _msg({1: ("limits", ("map", "quantity")), 2: ("requests", ("map", "quantity"))})),
    9: (
        "volumeMounts",
        _list(
            _msg(
                {1: ("name", "str"), 2: ("readOnly", "bool"), 3: ("mountPath", "str"), 4: ("subPath", "str")}
            )
        ),
    ),
    13: ("terminationMessagePath", "str"),
    14: ("imagePullPolicy", "str"),
    16: ("stdin", "bool"),
    17: ("stdinOnce", "bool"),
    18: ("tty", "bool"),
    20: ("terminationMessagePolicy", "str"),
}
_TOLERATION: _Schema = {
    1: ("key", "str"),
    2: ("operator", "str"),
    3: ("value", "str"),
    4: ("effect", "str"),
    5: ("tolerationSeconds", "int+"),
}
_POD_SPEC: _Schema = {
    2: ("containers", _list(_msg(_CONTAINER))),
    3: ("restartPolicy", "str"),
    4: ("terminationGracePeriodSeconds", "int+"),
    5: ("activeDeadlineSeconds", "int+"),
    6: ("dnsPolicy", "str"),
    7: ("nodeSelector", _STR_MAP),
    8: ("serviceAccountName", "str"),
    9: ("serviceAccount", "str"),
    10: ("nodeName", "str"),
    11: ("hostNetwork", "bool"),
    12: ("hostPID", "bool"),
    13: ("hostIPC", "bool"),
    15: ("imagePullSecrets", _list(_msg(_LOCAL_REFERENCE))),
    16: ("hostname", "str"),
    17: ("subdomain", "str"),
    19: ("schedulerName", "str"),
    20: ("initContainers", _list(_msg(_CONTAINER))),
    22: ("tolerations", _list(_msg(_TOLERATION))),
    24: ("priorityClassName", "str"),
}
_POD_TEMPLATE: _Schema = {1: _META, 2: ("spec", _msg(_POD_SPEC))}
_JOB_SPEC: _Schema = {
    1: ("parallelism", "int+"),
    2: ("completions", "int+"),
    3: ("activeDeadlineSeconds", "int+"),
    4: ("selector", _msg(_LABEL_SELECTOR)),
    5: ("manualSelector", "bool+"),
    6: ("template", _msg(_POD_TEMPLATE)),
    7: ("backoffLimit", "int+"),
    8: ("ttlSecondsAfterFinished", "int+"),
    9: ("completionMode", "str"),
    10: ("suspend", "bool+"),
}
_DEPLOYMENT_SPEC: _Schema = {
    1: ("replicas", "int+"),
    2: ("selector", _msg(_LABEL_SELECTOR)),
    3: ("template", _msg(_POD_TEMPLATE)),
    4: ("strategy", _msg({1: ("type", "str")})),
    5: ("minReadySeconds", "int"),
    6: ("revisionHistoryLimit", "int+"),
    7: ("paused", "bool"),
    9: ("progressDeadlineSeconds", "int+"),
}
_SERVICE_SPEC: _Schema = {
    1: (
        "ports",
        _list(
            _msg(
                {
                    1: ("name", "str"),
                    2: ("protocol", "str"),
                    3: ("port", "int+"),
                    4: ("targetPort", "intorstr"),
                    5: ("nodePort", "int"),
                }
            )
        ),
    ),
    2: ("selector", _STR_MAP),
    3: ("clusterIP", "str"),
    4: ("type", "str"),
    5: ("externalIPs", _list("str")),
    7: ("sessionAffinity", "str"),
    10: ("externalName", "str"),
}
_POLICY_RULE: _Schema = {
    1: ("verbs", _list("str")),
    2: ("apiGroups", _list("str")),
    3: ("resources", _list("str")),
    4: ("resourceNames", _list("str")),
    5: ("nonResourceURLs", _list("str")),
}
_ROLE_BINDING: _Schema = {
    1: _META,
    2: (
        "subjects",
        _list(
            _msg({1: ("kind", "str"), 2: ("apiGroup", "str"), 3: ("name", "str"), 4: ("namespace", "str")})
        ),
    ),
    3: ("roleRef", _msg({1: ("apiGroup", "str"), 2: ("kind", "str"), 3: ("name", "str")})),
}
_RBAC = "rbac.authorization.k8s.io/v1"
_SCHEMAS: dict[tuple[str, str], _Schema] = {
    ("v1", "ConfigMap"): {
        1: _META,
        2: ("data", _STR_MAP),
        3: ("binaryData", ("map", "bytes")),
        4: ("immutable", "bool+"),
    },
    ("v1", "Secret"): {
        1: _META,
        2: ("data", ("map", "bytes")),
        3: ("type", "str"),
        4: ("stringData", _STR_MAP),
        5: ("immutable", "bool+"),
    },
    ("v1", "Namespace"): {1: _META, 2: ("spec", _msg({1: ("finalizers", _list("str"))}))},
    ("v1", "ServiceAccount"): {
        1: _META,
        2: ("secrets", _list(_msg(_OBJECT_REFERENCE))),
        3: ("imagePullSecrets", _list(_msg(_LOCAL_REFERENCE))),
        4: ("automountServiceAccountToken", "bool+"),
    },
    ("v1", "Pod"): {1: _META, 2: ("spec", _msg(_POD_SPEC))},
    ("v1", "Service"): {1: _META, 2: ("spec", _msg(_SERVICE_SPEC))},
    ("apps/v1", "Deployment"): {1: _META, 2: ("spec", _msg(_DEPLOYMENT_SPEC))},
    ("batch/v1", "Job"): {1: _META, 2: ("spec", _msg(_JOB_SPEC))},
    (_RBAC, "Role"): {1: _META, 2: ("rules", _list(_msg(_POLICY_RULE)))},
    (_RBAC, "ClusterRole"): {1: _META, 2: ("rules", _list(_msg(_POLICY_RULE)))},
    (_RBAC, "RoleBinding"): _ROLE_BINDING,
    (_RBAC, "ClusterRoleBinding"): _ROLE_BINDING,
}
_KINDS = frozenset(_SCHEMAS)
# DeleteOptions is sent under whichever group version the typed client serves (v1, apps/v1, ...): Helm's
# Secret storage driver deletes a release's Secrets with a protobuf DeleteOptions body.
_DELETE_OPTIONS: _Schema = {
    1: ("gracePeriodSeconds", "int+"),
    2: ("preconditions", _msg({1: ("uid", "str"), 2: ("resourceVersion", "str")})),
    3: ("orphanDependents", "bool+"),
    4: ("propagationPolicy", "str"),
    5: ("dryRun", _list("str")),
}
_ANY_GROUP_SCHEMAS: dict[str, _Schema] = {"DeleteOptions": _DELETE_OPTIONS}


def decode_object(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object (``apiVersion`` and ``kind`` included)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf magic bytes k8s\\0")
    envelope = _message(body[len(MAGIC) :], _UNKNOWN)
    type_meta = envelope.get("typeMeta") or {}
    api_version, kind = str(type_meta.get("apiVersion", "")), str(type_meta.get("kind", ""))
    schema = _SCHEMAS.get((api_version, kind)) or _ANY_GROUP_SCHEMAS.get(kind)
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
    kinds: dict[str, Any] = {}
    for number, _wire, raw in _fields(data):
        spec = schema.get(number)
        if spec is None:
            continue  # a field this server does not read (managedFields, status, volumes...)
        name, kind = spec
        kinds[name] = kind
        if isinstance(kind, tuple) and kind[0] == "repeated":
            out.setdefault(name, []).append(_value(raw, kind[1]))
        elif isinstance(kind, tuple) and kind[0] == "map":
            entry = {n: v for n, _w, v in _fields(raw)}
            key = entry.get(1, b"").decode()
            out.setdefault(name, {})[key] = _value(entry.get(2, b""), kind[1])
        else:
            out[name] = _value(raw, kind)
    return {k: v for k, v in out.items() if not _omitted(kinds[k], v)}


def _omitted(kind: Any, value: Any) -> bool:
    """What Go's JSON encoder leaves out (omitempty) but its protobuf encoder writes anyway."""
    if kind in ("int+", "bool+"):
        return False
    if kind in ("int", "bool"):
        return not value
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def _value(raw: Any, kind: Any) -> Any:
    if kind == "raw":
        return raw
    if kind == "str":
        return raw.decode()
    if kind == "bytes":
        return base64.b64encode(raw).decode()
    if kind in ("int", "int+"):
        return raw - (1 << 64) if raw >= 1 << 63 else raw
    if kind in ("bool", "bool+"):
        return bool(raw)
    if kind == "quantity":
        return _message(raw, {1: ("string", "str")}).get("string", "")
    if kind == "intorstr":
        parts = _message(raw, {1: ("type", "int"), 2: ("intVal", "int+"), 3: ("strVal", "str")})
        return parts.get("strVal", "") if parts.get("type") == 1 else parts.get("intVal", 0)
    if kind == "time":
        seconds = {n: v for n, _w, v in _fields(raw)}.get(1, 0)
        if not seconds:
            return None
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(kind, tuple) and kind[0] == "message":
        return _message(raw, kind[1])
    raise ProtobufError(f"unknown field type {kind!r}")
