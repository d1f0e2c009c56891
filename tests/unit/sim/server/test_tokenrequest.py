"""kaito.sim.server.tokenrequest: TokenRequest bodies in JSON, YAML and kubectl's protobuf; defaults and
limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kaito.sim.server.errors import BadRequest, Invalid
from kaito.sim.server.tokenrequest import (
    DEFAULT_EXPIRATION_SECONDS,
    TokenRequestSpec,
    read_token_request,
    token_request_response,
)

DEFAULT_AUDIENCES = ("https://kubernetes.default.svc.cluster.local",)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _protobuf(audiences: list[str], seconds: int | None) -> bytes:
    """What kubectl create token sends: the k8s envelope around a TokenRequest (as client-go encodes it)."""
    spec = b"".join(_field(1, a.encode()) for a in audiences)
    if seconds is not None:
        spec += _field(4, seconds)
    spec += _field(3, b"")  # boundObjectRef, empty
    request = _field(1, _field(1, b"sa")) + _field(2, spec) + _field(3, b"")
    type_meta = _field(1, b"authentication.k8s.io/v1") + _field(2, b"TokenRequest")
    return (
        b"k8s\x00"
        + _field(1, type_meta)
        + _field(2, request)
        + _field(4, b"application/vnd.kubernetes.protobuf")
    )


@pytest.mark.parametrize(
    ("body", "media", "expected"),
    [
        (b"", "application/json", TokenRequestSpec(DEFAULT_AUDIENCES, DEFAULT_EXPIRATION_SECONDS)),
        (
            b'{"spec": {"expirationSeconds": 1200, "audiences": ["a"]}}',
            "application/json",
            TokenRequestSpec(("a",), 1200),
        ),
        (
            b"spec:\n  expirationSeconds: 7200\n",
            "application/yaml",
            TokenRequestSpec(DEFAULT_AUDIENCES, 7200),
        ),
        (
            _protobuf([], 1200),
            "application/vnd.kubernetes.protobuf",
            TokenRequestSpec(DEFAULT_AUDIENCES, 1200),
        ),
        (
            _protobuf(["x", "y"], None),
            "application/vnd.kubernetes.protobuf",
            TokenRequestSpec(("x", "y"), 3600),
        ),
    ],
)
def test_token_requests_are_read_in_every_encoding(
    body: bytes, media: str, expected: TokenRequestSpec
) -> None:
    assert read_token_request(body, media, "sa") == expected


@pytest.mark.parametrize(
    ("seconds", "message"),
    [
        (599, "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"),
        ((1 << 32) + 1, "may not specify a duration larger than 2^32 seconds"),
        ('"1h"', 'spec.expirationSeconds: Invalid value: "1h": must be a whole number of seconds'),
    ],
)
def test_a_lifetime_out_of_bounds_is_invalid_naming_the_field(seconds: object, message: str) -> None:
    body = f'{{"spec": {{"expirationSeconds": {seconds}}}}}'.encode()
    with pytest.raises(Invalid) as caught:
        read_token_request(body, "application/json", "sa")
    assert caught.value.message.startswith('TokenRequest.authentication.k8s.io "sa" is invalid: ')
    assert message in caught.value.message


@pytest.mark.parametrize("body", [b"[1]", b"{nope", b"\xff"])
def test_a_malformed_body_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest):
        read_token_request(body, "application/json", "sa")


def test_the_answer_carries_the_token_and_its_expiry() -> None:
    answer = token_request_response(
        "ns", "sa", TokenRequestSpec(("a",), 600), "t0k3n", datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    )
    assert (answer["kind"], answer["apiVersion"]) == ("TokenRequest", "authentication.k8s.io/v1")
    assert answer["status"] == {"token": "t0k3n", "expirationTimestamp": "2026-01-01T00:10:00Z"}
    assert answer["spec"]["expirationSeconds"] == 600
