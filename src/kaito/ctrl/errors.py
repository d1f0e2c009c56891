"""The exceptions kaito.ctrl raises, drawn in one place (the httpx habit).

    CtrlError                      anything this library raises on purpose
    ├── ApiError                   the API server answered with a failure Status (code, reason, message)
    │   ├── BadRequest             400
    │   ├── Unauthorized           401
    │   ├── Forbidden              403
    │   ├── NotFound               404
    │   ├── MethodNotAllowed       405
    │   ├── Conflict               409, reason Conflict: stale resourceVersion, re-read and retry
    │   ├── AlreadyExists          409, reason AlreadyExists: deliberately NOT a Conflict
    │   ├── Gone                   410: resourceVersion compacted, relist
    │   ├── Invalid                422: the object failed validation
    │   ├── TooManyRequests        429: `retry_after` seconds from the Retry-After header (or None)
    │   └── ServerError            5xx
    ├── TransportError             no answer at all (connection refused/reset, timeout)
    ├── UnknownKind                API discovery does not know the apiVersion/kind
    ├── ConfigError                no usable kubeconfig / in-cluster configuration
    ├── TerminalError              raised by a reconciler: log it, count it, do not requeue
    └── LeaderElectionLost         the manager lost its Lease; the process must exit non-zero

`is_transient(exc)` is the single rule for retries: 5xx, 429 and transport errors are transient; every
other 4xx is the caller's problem and retrying cannot help.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "AlreadyExists",
    "ApiError",
    "BadRequest",
    "ConfigError",
    "Conflict",
    "CtrlError",
    "Forbidden",
    "Gone",
    "Invalid",
    "LeaderElectionLost",
    "MethodNotAllowed",
    "NotFound",
    "ServerError",
    "TerminalError",
    "TooManyRequests",
    "TransportError",
    "Unauthorized",
    "UnknownKind",
]


class CtrlError(Exception):
    """Base of every exception kaito.ctrl raises on purpose."""


class ApiError(CtrlError):
    """The API server answered with a failure Status."""

    def __init__(
        self, code: int, reason: str, message: str, *, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.details = dict(details or {})


class BadRequest(ApiError):
    """400."""


class Unauthorized(ApiError):
    """401."""


class Forbidden(ApiError):
    """403."""


class NotFound(ApiError):
    """404."""


class MethodNotAllowed(ApiError):
    """405."""


class Conflict(ApiError):
    """409 with reason Conflict: the object changed since it was read."""


class AlreadyExists(ApiError):
    """409 with reason AlreadyExists: create of a name that is taken."""


class Gone(ApiError):
    """410: the requested resourceVersion is older than the server's history."""


class Invalid(ApiError):
    """422: the object failed validation."""


class TooManyRequests(ApiError):
    """429: the server is throttling; `retry_after` is the server's hint in seconds, if it gave one."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, reason, message, details=details)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx."""


class TransportError(CtrlError):
    """The request got no HTTP answer (connection refused or reset, timeout)."""


class UnknownKind(CtrlError):
    """API discovery has no resource for the requested apiVersion and kind."""


class ConfigError(CtrlError):
    """No usable cluster configuration."""


class TerminalError(CtrlError):
    """Raised by a reconciler for a failure that retrying cannot fix: counted, logged, not requeued."""


class LeaderElectionLost(CtrlError):
    """The manager stopped renewing its Lease; another replica may now be leading."""


_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_from_response(
    code: int, body: bytes | Mapping[str, Any] | None, headers: Mapping[str, str] | None = None
) -> ApiError:
    """Build the right ApiError subclass from a failure status code and its (Status) body."""
    status: Mapping[str, Any] = {}
    if isinstance(body, Mapping):
        status = body
    elif body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        status = parsed if isinstance(parsed, dict) else {"message": body.decode("utf-8", "replace")}
    reason = str(status.get("reason") or "")
    message = str(status.get("message") or f"the server answered HTTP {code}")
    details = status.get("details") if isinstance(status.get("details"), dict) else None
    if code == 429:
        retry_after = _parse_retry_after((headers or {}).get("Retry-After"))
        if retry_after is None and details and "retryAfterSeconds" in details:
            retry_after = float(details["retryAfterSeconds"])
        return TooManyRequests(
            code, reason or "TooManyRequests", message, details=details, retry_after=retry_after
        )
    if code == 409 and reason == "AlreadyExists":
        return AlreadyExists(code, reason, message, details=details)
    if code >= 500:
        return ServerError(code, reason or "InternalError", message, details=details)
    cls = _BY_CODE.get(code, ApiError)
    return cls(code, reason or cls.__name__, message, details=details)


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: 5xx, 429 and transport errors; never other 4xx."""
    return isinstance(exc, ServerError | TooManyRequests | TransportError)
