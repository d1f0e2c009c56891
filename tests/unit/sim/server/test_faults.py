"""Fault rules: which requests they match, how counts run down, what failure a client sees."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.server.faults import Faults, Match, RequestFacts, failure_status

GET_POD = RequestFacts(verb="get", resource="pods", namespace="default", name="web-0")
LIST_DEPLOY = RequestFacts(verb="list", group="apps", resource="deployments", namespace="default")
PATCH_STATUS = RequestFacts(
    verb="patch", resource="pods", subresource="status", namespace="default", name="web-0"
)


@pytest.mark.parametrize(
    ("match", "facts", "hit"),
    [
        (Match(), GET_POD, True),
        (Match(verb="get"), GET_POD, True),
        (Match(verb=("list", "watch")), GET_POD, False),
        (Match(resource="pods"), GET_POD, True),
        (Match(resource="pods"), PATCH_STATUS, True),
        (Match(resource="pods/status"), PATCH_STATUS, True),
        (Match(resource="pods/status"), GET_POD, False),
        (Match(resource="deployments.apps"), LIST_DEPLOY, True),
        (Match(resource="deployments.extensions"), LIST_DEPLOY, False),
        (Match(name="web-0"), GET_POD, True),
        (Match(name="web-1"), GET_POD, False),
        (Match(namespace="kube-system"), GET_POD, False),
    ],
)
def test_match(match: Match, facts: RequestFacts, hit: bool) -> None:
    assert match.matches(facts) is hit


def test_unknown_verb_is_refused_with_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match='verb "fetch" is not a Kubernetes API verb; use one of create'):
        Match(verb="fetch")


def test_failure_runs_down_its_count_then_disarms() -> None:
    faults = Faults()
    rule = faults.fail(2, code=503, resource="pods")
    assert faults.decide(LIST_DEPLOY).failure is None  # does not match, does not count
    codes = [d.failure[0] if d.failure else None for d in (faults.decide(GET_POD) for _ in range(3))]
    assert codes == [503, 503, None]
    assert rule.hits == 2 and faults.rules == []


def test_429_carries_retry_after_in_header_and_body() -> None:
    faults = Faults()
    faults.fail(code=429, retry_after=3)
    failure = faults.decide(GET_POD).failure
    assert failure is not None
    code, status, headers = failure
    assert (code, headers) == (429, {"Retry-After": "3"})
    assert status["reason"] == "TooManyRequests" and status["details"] == {"retryAfterSeconds": 3}


def test_delay_adds_up_and_lasts_until_cleared_without_count() -> None:
    faults = Faults()
    faults.delay(0.5)
    faults.delay(0.25, verb="get", count=1)
    assert faults.decide(GET_POD).delay_s == 0.75
    assert faults.decide(GET_POD).delay_s == 0.5
    faults.clear()
    assert faults.decide(GET_POD).delay_s == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"count": 0}, "count is 0"),
        ({"code": 404}, "code is 404; inject 409, 429 or a 5xx status"),
    ],
)
def test_bad_fail_arguments_are_explained(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Faults().fail(**kwargs)


def test_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="seconds is -1"):
        Faults().delay(-1)


@pytest.mark.parametrize(
    ("code", "reason"), [(500, "InternalError"), (503, "ServiceUnavailable"), (504, "Timeout")]
)
def test_failure_status_is_a_kube_status(code: int, reason: str) -> None:
    status = failure_status(code)
    assert status["kind"] == "Status" and status["status"] == "Failure"
    assert (status["code"], status["reason"]) == (code, reason)


def test_a_409_reads_as_kube_s_conflict_naming_the_object() -> None:
    faults = Faults()
    faults.fail(code=409, verb="patch", resource="workspaces")
    facts = RequestFacts("patch", "kaito.sh", "workspaces", "status", "default", "phi")
    decision = faults.decide(facts)
    assert decision.failure is not None
    code, status, headers = decision.failure
    assert (code, status["reason"], headers) == (409, "Conflict", {})
    assert status["message"].startswith('Operation cannot be fulfilled on workspaces.kaito.sh "phi": ')
    assert faults.decide(facts).failure is None  # count 1, consumed


class _FakeStore:
    def __init__(self) -> None:
        self.dropped = 0
        self.compacted: list[int | None] = []

    def drop_watches(self) -> int:
        self.dropped += 1
        return 0

    def compact(self, resource_version: int | None = None) -> None:
        self.compacted.append(resource_version)


def test_drop_and_compact_reach_the_store_and_the_streams() -> None:
    store = _FakeStore()
    faults = Faults(store)
    faults.stream_closers.append(lambda: 3)
    assert faults.drop_watches() == 3 and store.dropped == 1
    faults.compact()
    faults.compact(7)
    assert store.compacted == [None, 7]
    with pytest.raises(RuntimeError, match="needs the cluster's store"):
        Faults().compact()
