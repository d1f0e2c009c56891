"""The errors the embedded API server can answer with, shaped like kube-apiserver's ``metav1.Status``.

Hierarchy (every class carries the HTTP code and the ``StatusReason`` kube uses for it)::

    ApiError
    ├── BadRequest            400  BadRequest
    ├── Forbidden             403  Forbidden
    ├── NotFound              404  NotFound
    ├── MethodNotAllowed      405  MethodNotAllowed
    ├── AlreadyExists         409  AlreadyExists
    ├── Conflict              409  Conflict
    ├── Gone                  410  Expired        (watch/list from a compacted resourceVersion)
    ├── UnsupportedMediaType  415  UnsupportedMediaType  (strategic merge patch on a custom resource)
    ├── Invalid               422  Invalid        (details.causes lists each field error)
    ├── TooManyRequests       429  TooManyRequests
    └── InternalError         500  InternalError

Messages are kube-apiserver's own sentences (``pods "web-0" not found``) so that clients and kubectl print
what they would print against a real cluster. The constructors below build those sentences from the resource's
qualified name (``deployments.apps``), which :func:`qualified_resource` derives from plural and group.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlreadyExists",
    "ApiError",
    "BadRequest",
    "Conflict",
    "FieldError",
    "Forbidden",
    "Gone",
    "InternalError",
    "Invalid",
    "MethodNotAllowed",
    "NotFound",
    "TooManyRequests",
    "UnsupportedMediaType",
    "qualified_kind",
    "qualified_resource",
]


def qualified_resource(plural: str, group: str) -> str:
    """``pods`` for the core group, ``deployments.apps`` otherwise (kube's GroupResource.String())."""
    return f"{plural}.{group}" if group else plural


def qualified_kind(kind: str, group: str) -> str:
    """``Pod`` for the core group, ``Workspace.kaito.sh`` otherwise (kube's GroupKind.String())."""
    return f"{kind}.{group}" if group else kind


class ApiError(Exception):
    """An error kube-apiserver would answer with; :meth:`to_status` gives the wire form."""

    code: int = 500
    reason: str = "InternalError"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_status(self) -> dict[str, Any]:
        """The ``metav1.Status`` body of this error."""
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            status["details"] = self.details
        return status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.message!r})"


def _details(name: str, plural: str, group: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return details


class BadRequest(ApiError):
    code = 400
    reason = "BadRequest"


class Forbidden(ApiError):
    code = 403
    reason = "Forbidden"

    @classmethod
    def for_object(cls, plural: str, group: str, name: str, why: str) -> Forbidden:
        """``pods "x" is forbidden: <why>``."""
        return cls(
            f'{qualified_resource(plural, group)} "{name}" is forbidden: {why}',
            details=_details(name, plural, group),
        )


class NotFound(ApiError):
    code = 404
    reason = "NotFound"

    @classmethod
    def for_object(cls, plural: str, group: str, name: str) -> NotFound:
        """``pods "web-0" not found``."""
        return cls(
            f'{qualified_resource(plural, group)} "{name}" not found', details=_details(name, plural, group)
        )


class MethodNotAllowed(ApiError):
    code = 405
    reason = "MethodNotAllowed"


class AlreadyExists(ApiError):
    code = 409
    reason = "AlreadyExists"

    @classmethod
    def for_object(cls, plural: str, group: str, name: str) -> AlreadyExists:
        """``pods "web-0" already exists``."""
        return cls(
            f'{qualified_resource(plural, group)} "{name}" already exists',
            details=_details(name, plural, group),
        )


class Conflict(ApiError):
    code = 409
    reason = "Conflict"

    @classmethod
    def for_object(cls, plural: str, group: str, name: str, why: str) -> Conflict:
        """``Operation cannot be fulfilled on pods "x": <why>``."""
        return cls(
            f'Operation cannot be fulfilled on {qualified_resource(plural, group)} "{name}": {why}',
            details=_details(name, plural, group),
        )

    @classmethod
    def stale(cls, plural: str, group: str, name: str) -> Conflict:
        """The optimistic-concurrency failure of an update carrying an old resourceVersion."""
        return cls.for_object(
            plural,
            group,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )


class Gone(ApiError):
    code = 410
    reason = "Expired"

    @classmethod
    def too_old(cls, requested: int, oldest: int) -> Gone:
        """``too old resource version: 5 (12)``: the requested version and the compaction point."""
        return cls(f"too old resource version: {requested} ({oldest})")


class UnsupportedMediaType(ApiError):
    code = 415
    reason = "UnsupportedMediaType"


class FieldError:
    """One ``details.causes`` entry of an Invalid error: ``spec.foo: Unsupported value: "bar": ...``."""

    __slots__ = ("detail", "field", "reason", "value")

    # kube's field.ErrorType strings, keyed by the cause reason it puts in details.causes
    _PHRASES = {
        "FieldValueRequired": "Required value",
        "FieldValueInvalid": "Invalid value",
        "FieldValueNotSupported": "Unsupported value",
        "FieldValueForbidden": "Forbidden",
        "FieldValueDuplicate": "Duplicate value",
        "FieldValueTooLong": "Too long",
        "FieldValueTooMany": "Too many",
        "FieldValueTypeInvalid": "Invalid value",
    }
    _NO_VALUE = object()

    def __init__(self, reason: str, field: str, detail: str = "", value: Any = _NO_VALUE) -> None:
        self.reason = reason
        self.field = field
        self.detail = detail
        self.value = value

    def body(self) -> str:
        """The message without the field path, e.g. ``Unsupported value: "bar": supported values: "a"``."""
        import json

        parts = [self._PHRASES.get(self.reason, "Invalid value")]
        if self.value is not FieldError._NO_VALUE and self.reason not in (
            "FieldValueRequired",
            "FieldValueForbidden",
            "FieldValueTooLong",
            "FieldValueTooMany",
        ):
            parts.append(_render_value(self.value, json.dumps))
        if self.detail:
            parts.append(self.detail)
        return ": ".join(parts)

    def message(self) -> str:
        """``<field>: <body>``, the sentence kube joins into the Invalid message."""
        return f"{self.field}: {self.body()}" if self.field else self.body()

    def cause(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.body(), "field": self.field}

    def __repr__(self) -> str:
        return f"FieldError({self.message()!r})"


def _render_value(value: Any, dumps: Any) -> str:
    if isinstance(value, str):
        return str(dumps(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if value is None:
        return "null"
    return f'"{dumps(value, separators=(",", ":"), sort_keys=True)}"'


class Invalid(ApiError):
    code = 422
    reason = "Invalid"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.causes: list[dict[str, Any]] = list((details or {}).get("causes", []))

    @classmethod
    def for_object(cls, kind: str, group: str, name: str, errors: list[FieldError]) -> Invalid:
        """``Workspace.kaito.sh "x" is invalid: spec.foo: ...`` (several errors are bracketed, as in kube)."""
        messages = [e.message() for e in errors]
        joined = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
        details: dict[str, Any] = {"name": name, "kind": kind, "causes": [e.cause() for e in errors]}
        if group:
            details["group"] = group
        return cls(f'{qualified_kind(kind, group)} "{name}" is invalid: {joined}', details=details)


class TooManyRequests(ApiError):
    code = 429
    reason = "TooManyRequests"


class InternalError(ApiError):
    code = 500
    reason = "InternalError"
