"""x-kubernetes-validations through celpy: results, messages, transition rules, and what is skipped."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from kaito.sim.server.cel import evaluate_rules, is_transition_rule, type_name


@pytest.mark.parametrize(
    ("rule", "value", "ok"),
    [
        ({"rule": "self.replicas >= 0"}, {"replicas": 1}, True),
        ({"rule": "self.replicas >= 0"}, {"replicas": -1}, False),
        ({"rule": "has(self.a) == has(self.b)"}, {"a": 1}, False),
        ({"rule": "self.all(k, k.startsWith('x-'))"}, {"x-a": 1, "x-b": 2}, True),
        ({"rule": "self.size() <= 3"}, [1, 2, 3, 4], False),
        ({"rule": "self.matches('^[a-z]+$')"}, "abc", True),
    ],
)
def test_rule_results(rule: dict[str, Any], value: Any, ok: bool) -> None:
    assert (evaluate_rules([rule], value, None, "spec", has_old=False) == []) is ok


def test_messages_reason_and_field_path() -> None:
    rules = [
        {
            "rule": "self.n < 2",
            "message": "n must be small",
            "fieldPath": ".n",
            "reason": "FieldValueForbidden",
        },
        {"rule": "self.n < 1", "messageExpression": "'n is ' + string(self.n)"},
        {"rule": "self.n < 0"},
    ]
    errors = evaluate_rules(rules, {"n": 5}, None, "spec", has_old=False)
    assert [e.message() for e in errors] == [
        "spec.n: Forbidden: n must be small",
        'spec: Invalid value: "object": n is 5',
        'spec: Invalid value: "object": failed rule: self.n < 0',
    ]
    assert errors[0].cause()["reason"] == "FieldValueForbidden"


def test_transition_rules_need_an_old_value() -> None:
    rule = [{"rule": "self == oldSelf", "message": "immutable"}]
    assert is_transition_rule("self == oldSelf")
    assert evaluate_rules(rule, "a", None, "spec.x", has_old=False) == []
    assert [e.message() for e in evaluate_rules(rule, "a", "b", "spec.x", has_old=True)] == [
        'spec.x: Invalid value: "string": immutable'
    ]


def test_missing_field_fails_the_rule_like_kube() -> None:
    [error] = evaluate_rules([{"rule": "self.absent > 1"}], {}, None, "spec", has_old=False)
    assert error.detail == "no such key: absent evaluating rule: self.absent > 1"


@pytest.mark.parametrize("expr", ["self.x.isURL()", "self.x == (("])
def test_rules_celpy_cannot_handle_are_skipped_with_a_warning(
    expr: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="kaito.sim.server.cel"):
        assert evaluate_rules([{"rule": expr}], {"x": "a"}, None, "spec", has_old=False) == []
    assert any(expr in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    ("value", "name"),
    [({}, "object"), ([], "array"), (True, "boolean"), (1, "integer"), (1.5, "number"), ("s", "string")],
)
def test_type_names(value: Any, name: str) -> None:
    assert type_name(value) == name
