"""Failure statuses map to distinct exceptions; only 5xx, 429 and transport errors are transient."""

from __future__ import annotations

import json

import pytest

from kaito.ctrl import errors
from kaito.ctrl.errors import error_from_response, is_transient


def body(code: int, reason: str, **extra: object) -> bytes:
    return json.dumps({"kind": "Status", "code": code, "reason": reason, "message": "m", **extra}).encode()


@pytest.mark.parametrize(
    ("code", "reason", "cls", "transient"),
    [
        (400, "BadRequest", errors.BadRequest, False),
        (401, "Unauthorized", errors.Unauthorized, False),
        (403, "Forbidden", errors.Forbidden, False),
        (404, "NotFound", errors.NotFound, False),
        (405, "MethodNotAllowed", errors.MethodNotAllowed, False),
        (409, "Conflict", errors.Conflict, False),
        (409, "AlreadyExists", errors.AlreadyExists, False),
        (410, "Expired", errors.Gone, False),
        (422, "Invalid", errors.Invalid, False),
        (429, "TooManyRequests", errors.TooManyRequests, True),
        (500, "InternalError", errors.ServerError, True),
        (503, "ServiceUnavailable", errors.ServerError, True),
        (418, "Teapot", errors.ApiError, False),
    ],
)
def test_status_codes_map_to_exceptions(code: int, reason: str, cls: type, transient: bool) -> None:
    exc = error_from_response(code, body(code, reason))
    assert type(exc) is cls
    assert (exc.code, exc.reason, exc.message) == (code, reason, "m")
    assert is_transient(exc) is transient


def test_already_exists_is_not_a_conflict() -> None:
    assert not isinstance(error_from_response(409, body(409, "AlreadyExists")), errors.Conflict)


@pytest.mark.parametrize(
    ("headers", "details", "expected"),
    [
        ({"Retry-After": "7"}, None, 7.0),
        ({}, {"retryAfterSeconds": 3}, 3.0),
        ({}, None, None),
        ({"Retry-After": "x"}, None, None),
    ],
)
def test_retry_after(headers: dict[str, str], details: object, expected: float | None) -> None:
    extra = {"details": details} if details else {}
    exc = error_from_response(429, body(429, "TooManyRequests", **extra), headers)
    assert isinstance(exc, errors.TooManyRequests)
    assert exc.retry_after == expected


def test_non_json_body_becomes_the_message_and_transport_errors_are_transient() -> None:
    exc = error_from_response(502, b"bad gateway")
    assert isinstance(exc, errors.ServerError) and exc.message == "bad gateway"
    assert is_transient(errors.TransportError("reset"))
    assert not is_transient(ValueError())
