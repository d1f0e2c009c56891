"""Fault injection for the embedded API server: the knobs tests turn to see how clients cope with a bad day.

``cluster.faults`` is a :class:`Faults`. Its knobs:

- :meth:`Faults.fail` — the next ``count`` requests matching a :class:`Match` (verb, resource, name,
  namespace) are answered with ``code`` (5xx, 429 with a ``Retry-After`` header, or 409 ``Conflict`` as
  when another writer got there first) and a ``metav1.Status`` body, as kube-apiserver's own overload,
  error and optimistic-concurrency responses look.
- :meth:`Faults.delay` — matching requests wait ``seconds`` before they are served (``count`` times, or
  until :meth:`Faults.clear`).
- :meth:`Faults.drop_watches` — every open watch ends now (the store's watches and the HTTP streams carrying
  them); clients must re-watch from their last resourceVersion.
- :meth:`Faults.compact` — the store forgets its event history, so a watch from an old resourceVersion gets
  410.

Invariant: rules are consulted in the order they were added; a request consumes one unit of every delay rule
that matches it and of the first failure rule that matches it. A rule whose count reaches zero is removed.
:meth:`Faults.decide` is the pure-ish decision (it only decrements counts); the API server applies the
decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Decision", "FaultRule", "Faults", "Match", "RequestFacts", "failure_status"]

_VERBS = frozenset({"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"})
_REASONS = {
    409: (
        "Conflict",
        "Operation cannot be fulfilled: the object has been modified; please apply your changes to the "
        "latest version and try again",
    ),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected fault"),
    502: ("InternalError", "Internal error occurred: injected fault (bad gateway)"),
    503: ("ServiceUnavailable", "The server is currently unable to handle the request"),
    504: (
        "Timeout",
        "The server was unable to return a response in the time allotted, but may still be processing",
    ),
}


def _conflict_message(facts: RequestFacts) -> str:
    """kube-apiserver's sentence for a write that lost the optimistic-concurrency race."""
    resource = f"{facts.resource}.{facts.group}" if facts.group else facts.resource
    return (
        f'Operation cannot be fulfilled on {resource} "{facts.name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


class _CompactingStore(Protocol):
    def drop_watches(self) -> Any: ...

    def compact(self, resource_version: int | None = None) -> None: ...


@dataclass(frozen=True)
class RequestFacts:
    """What a rule can match on: kube's request attributes (verb as RBAC names it, ``resource`` is the plural,
    ``subresource`` e.g. ``status``; all empty for non-resource paths such as ``/healthz``)."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


@dataclass(frozen=True)
class Match:
    """Which requests a rule applies to; ``None`` matches anything.

    ``resource`` is a plural (``pods``), optionally qualified with its group (``deployments.apps``) and/or a
    subresource (``pods/status``). ``verb`` is a verb or a tuple of verbs.
    """

    verb: str | tuple[str, ...] | None = None
    resource: str | None = None
    name: str | None = None
    namespace: str | None = None

    def __post_init__(self) -> None:
        verbs = (self.verb,) if isinstance(self.verb, str) else self.verb or ()
        for v in verbs:
            if v not in _VERBS:
                raise ValueError(
                    f'verb "{v}" is not a Kubernetes API verb; use one of {", ".join(sorted(_VERBS))}'
                )

    def matches(self, facts: RequestFacts) -> bool:
        if self.verb is not None:
            verbs = (self.verb,) if isinstance(self.verb, str) else self.verb
            if facts.verb not in verbs:
                return False
        if self.resource is not None:
            plural_group, _, sub = self.resource.partition("/")
            plural, _, group = plural_group.partition(".")
            if plural != facts.resource or (group and group != facts.group):
                return False
            if sub != facts.subresource and (sub or facts.subresource not in ("", "status")):
                # "pods" also matches pods/status; "pods/status" matches only the subresource
                return False
        if self.name is not None and self.name != facts.name:
            return False
        return self.namespace is None or self.namespace == facts.namespace


@dataclass
class FaultRule:
    """One armed knob. ``remaining`` None means until cleared; ``hits`` counts requests it affected."""

    match: Match
    code: int | None = None
    retry_after: int | None = None
    message: str | None = None
    delay_s: float = 0.0
    remaining: int | None = 1
    hits: int = 0


@dataclass(frozen=True)
class Decision:
    """What to do with one request: wait ``delay_s``, then answer ``failure`` (code, body, headers) if set."""

    delay_s: float = 0.0
    failure: tuple[int, dict[str, Any], dict[str, str]] | None = None


def failure_status(
    code: int, *, retry_after: int | None = None, message: str | None = None
) -> dict[str, Any]:
    """The ``metav1.Status`` kube-apiserver sends with ``code`` (``details.retryAfterSeconds`` when given)."""
    reason, default = _REASONS.get(
        code, ("InternalError" if code >= 500 else "BadRequest", f"injected {code}")
    )
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message or default,
        "reason": reason,
        "code": code,
    }
    if retry_after is not None:
        status["details"] = {"retryAfterSeconds": retry_after}
    return status


@dataclass
class Faults:
    """The fault-injection knobs of one cluster (see the module docstring)."""

    store: _CompactingStore | None = None
    rules: list[FaultRule] = field(default_factory=list)
    # callables that close the API server's open watch streams; each returns how many it closed
    stream_closers: list[Callable[[], int]] = field(default_factory=list)

    def fail(
        self,
        count: int = 1,
        *,
        code: int = 500,
        verb: str | tuple[str, ...] | None = None,
        resource: str | None = None,
        name: str | None = None,
        namespace: str | None = None,
        retry_after: int | None = None,
        message: str | None = None,
    ) -> FaultRule:
        """Answer the next ``count`` matching requests with ``code`` (409, 429 with ``Retry-After``, 5xx)."""
        if count < 1:
            raise ValueError(f"count is {count}; it must be at least 1 request")
        if not (code in (409, 429) or 500 <= code <= 599):
            raise ValueError(f"code is {code}; inject 409, 429 or a 5xx status")
        if code == 429 and retry_after is None:
            retry_after = 1
        rule = FaultRule(
            Match(verb, resource, name, namespace),
            code=code,
            retry_after=retry_after,
            message=message,
            remaining=count,
        )
        self.rules.append(rule)
        return rule

    def delay(
        self,
        seconds: float,
        *,
        count: int | None = None,
        verb: str | tuple[str, ...] | None = None,
        resource: str | None = None,
        name: str | None = None,
        namespace: str | None = None,
    ) -> FaultRule:
        """Make matching requests wait ``seconds`` first (``count`` times; None means until cleared)."""
        if seconds < 0:
            raise ValueError(f"seconds is {seconds}; latency must be zero or more")
        if count is not None and count < 1:
            raise ValueError(f"count is {count}; give at least 1 request, or None for every request")
        rule = FaultRule(Match(verb, resource, name, namespace), delay_s=seconds, remaining=count)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Disarm every failure and latency rule."""
        self.rules.clear()

    def decide(self, facts: RequestFacts) -> Decision:
        """Consume the rules that apply to one request and say what to do with it."""
        delay = 0.0
        failure: tuple[int, dict[str, Any], dict[str, str]] | None = None
        for rule in list(self.rules):
            if not rule.match.matches(facts):
                continue
            if rule.code is None:
                delay += rule.delay_s
            elif failure is None:
                headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
                message = rule.message or (_conflict_message(facts) if rule.code == 409 else None)
                status = failure_status(rule.code, retry_after=rule.retry_after, message=message)
                failure = (rule.code, status, headers)
            else:
                continue
            rule.hits += 1
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self.rules.remove(rule)
        return Decision(delay, failure)

    def drop_watches(self) -> int:
        """End every open watch now; returns how many HTTP watch streams were closed."""
        if self.store is not None:
            self.store.drop_watches()
        return sum(closer() for closer in self.stream_closers)

    def compact(self, resource_version: int | None = None) -> None:
        """Drop the store's event history up to ``resource_version`` (default: all of it)."""
        if self.store is None:
            raise RuntimeError("compact() needs the cluster's store; this Faults was made without one")
        self.store.compact(resource_version)
