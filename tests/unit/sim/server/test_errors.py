"""Error bodies are kube's metav1.Status with kube's messages."""

from __future__ import annotations

import pytest

from kaito.sim.server.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    MethodNotAllowed,
    NotFound,
    TooManyRequests,
    UnsupportedMediaType,
)


@pytest.mark.parametrize(
    ("cls", "code", "reason"),
    [
        (BadRequest, 400, "BadRequest"),
        (Forbidden, 403, "Forbidden"),
        (NotFound, 404, "NotFound"),
        (MethodNotAllowed, 405, "MethodNotAllowed"),
        (AlreadyExists, 409, "AlreadyExists"),
        (Conflict, 409, "Conflict"),
        (Gone, 410, "Expired"),
        (UnsupportedMediaType, 415, "UnsupportedMediaType"),
        (Invalid, 422, "Invalid"),
        (TooManyRequests, 429, "TooManyRequests"),
        (InternalError, 500, "InternalError"),
    ],
)
def test_codes_and_reasons(cls: type[ApiError], code: int, reason: str) -> None:
    status = cls("boom").to_status()
    assert (status["code"], status["reason"], status["status"], status["message"]) == (
        code,
        reason,
        "Failure",
        "boom",
    )
    assert isinstance(cls("x"), ApiError)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (NotFound.for_object("pods", "", "web-0"), 'pods "web-0" not found'),
        (AlreadyExists.for_object("workspaces", "kaito.sh", "w"), 'workspaces.kaito.sh "w" already exists'),
        (
            Conflict.stale("deployments", "apps", "x"),
            'Operation cannot be fulfilled on deployments.apps "x": the object has been modified; '
            "please apply your changes to the latest version and try again",
        ),
        (Gone.too_old(5, 12), "too old resource version: 5 (12)"),
        (Forbidden.for_object("namespaces", "", "default", "no"), 'namespaces "default" is forbidden: no'),
    ],
)
def test_kube_messages(error: ApiError, message: str) -> None:
    assert error.message == message


def test_invalid_carries_causes() -> None:
    errors = [
        FieldError("FieldValueNotSupported", "spec.mode", 'supported values: "a", "b"', "bar"),
        FieldError("FieldValueRequired", "spec.name"),
    ]
    err = Invalid.for_object("Workspace", "kaito.sh", "x", errors)
    assert err.message == (
        'Workspace.kaito.sh "x" is invalid: [spec.mode: Unsupported value: "bar": '
        'supported values: "a", "b", spec.name: Required value]'
    )
    assert err.to_status()["details"] == {
        "name": "x",
        "kind": "Workspace",
        "group": "kaito.sh",
        "causes": [
            {
                "reason": "FieldValueNotSupported",
                "message": 'Unsupported value: "bar": supported values: "a", "b"',
                "field": "spec.mode",
            },
            {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.name"},
        ],
    }
