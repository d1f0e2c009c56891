"""The TokenRequest API (``POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token``), so that
``kubectl create token NAME [--duration D]`` mints a ServiceAccount token when authorization is on.

Pure parts only: :func:`read_token_request` takes the request body (JSON, YAML, or the protobuf kubectl's
typed client sends) to the two fields that matter, audiences and ``spec.expirationSeconds`` (default 3600,
at least 600 as kube requires), and :func:`token_request_response` builds the ``authentication.k8s.io/v1``
TokenRequest answered with status 201. :class:`kaito.sim.server.authz.Authorization` serves the route and
mints.

The protobuf reader knows just this message: the ``k8s\\0`` envelope's ``runtime.Unknown`` (raw = 2), then
TokenRequest (spec = 2) and TokenRequestSpec (audiences = 1, expirationSeconds = 4), per k8s.io/api
authentication/v1 generated.proto; every other field is skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from kaito.sim.server.errors import BadRequest, FieldError, Invalid

__all__ = [
    "DEFAULT_EXPIRATION_SECONDS",
    "MIN_EXPIRATION_SECONDS",
    "TokenRequestSpec",
    "read_token_request",
    "token_request_response",
]

DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
_MAX_EXPIRATION_SECONDS = 1 << 32
_DEFAULT_AUDIENCES = ("https://kubernetes.default.svc.cluster.local",)
_MAGIC = b"k8s\x00"


@dataclass(frozen=True)
class TokenRequestSpec:
    audiences: tuple[str, ...]
    expiration_seconds: int


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise BadRequest("the protobuf TokenRequest ends inside a number")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of one protobuf message: varints as int, length-delimited as bytes."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            out.append((number, data[pos : pos + length]))
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise BadRequest(
                f"the protobuf TokenRequest has a field of wire type {wire}, which it never uses"
            )
    return out


def _from_protobuf(body: bytes) -> dict[str, Any]:
    raw = next((v for n, v in _fields(body[len(_MAGIC) :]) if n == 2 and isinstance(v, bytes)), b"")
    spec: dict[str, Any] = {}
    for number, value in _fields(raw):
        if number != 2 or not isinstance(value, bytes):
            continue
        for field, item in _fields(value):
            if field == 1 and isinstance(item, bytes):
                spec.setdefault("audiences", []).append(item.decode())
            elif field == 4 and isinstance(item, int):
                spec["expirationSeconds"] = item
    return {"spec": spec}


def read_token_request(body: bytes, media_type: str, name: str) -> TokenRequestSpec:
    """The audiences and lifetime a TokenRequest body asks for (defaults filled in); Invalid if too short."""
    if body.startswith(_MAGIC):
        request = _from_protobuf(body)
    else:
        try:
            text = body.decode() or "{}"
            request = yaml.safe_load(text) if "yaml" in media_type else json.loads(text)
        except (UnicodeDecodeError, ValueError, yaml.YAMLError) as err:
            raise BadRequest(f"the TokenRequest body is not valid {media_type}: {err}") from None
        if not isinstance(request, dict):
            raise BadRequest("the TokenRequest body must be an object")
    spec = request.get("spec") or {}
    seconds = spec.get("expirationSeconds")
    seconds = DEFAULT_EXPIRATION_SECONDS if seconds is None else seconds
    problem = ""
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        problem = "must be a whole number of seconds"
    elif seconds < MIN_EXPIRATION_SECONDS:
        problem = "may not specify a duration less than 10 minutes"
    elif seconds > _MAX_EXPIRATION_SECONDS:
        problem = "may not specify a duration larger than 2^32 seconds"
    if problem:
        error = FieldError("FieldValueInvalid", "spec.expirationSeconds", problem, seconds)
        raise Invalid.for_object("TokenRequest", "authentication.k8s.io", name, [error])
    audiences = tuple(str(a) for a in spec.get("audiences") or ()) or _DEFAULT_AUDIENCES
    return TokenRequestSpec(audiences, seconds)


def token_request_response(
    namespace: str, name: str, spec: TokenRequestSpec, token: str, expires: datetime
) -> dict[str, Any]:
    """The TokenRequest the server answers, carrying the token and when it expires."""
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
        "spec": {
            "audiences": list(spec.audiences),
            "expirationSeconds": spec.expiration_seconds,
            "boundObjectRef": None,
        },
        "status": {"token": token, "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
