"""x-kubernetes-validations through celpy: results, messages, transition rules, and what is skipped."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from kaito.sim.server.cel import evaluate_rules, is_transition_rule, rule_paths, rule_view, type_name


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


def test_an_update_that_leaves_a_value_unchanged_is_not_held_to_its_rules_again() -> None:
    # kube's validation ratcheting: a status write must not fail on a spec field it did not touch
    rule = [{"rule": "self.n < 3", "message": "n must be below 3"}]
    assert evaluate_rules(rule, {"n": 5}, {"n": 5}, "spec", has_old=True) == []
    [error] = evaluate_rules(rule, {"n": 6}, {"n": 5}, "spec", has_old=True)
    assert "n must be below 3" in error.message()


# ------------------------------------------------------------------------------------------ views and memo
@pytest.mark.parametrize(
    ("rule", "paths"),
    [
        ("has(self.inference) || has(self.tuning)", (set(), {("inference",), ("tuning",)})),
        (
            "!has(self.resource) || !has(self.resource.count) || self.resource.count == 1",
            ({("resource", "count")}, {("resource",)}),
        ),
        ("size(self.name) > 0", ({("name",)}, set())),
        ("self.image.matches('^a')", ({("image",)}, set())),  # matches is a method of self.image
        ("self.items.all(x, x != '')", ({("items",)}, set())),
        ("self.a[0] == 1", ({("a",)}, set())),
        ("self == oldSelf", None),  # self whole
        ("size(self) > 1", None),
        ("self['a'] == 1", None),
        ("has(self.x__dash__y)", None),  # an escaped name: not looked up by its spelling
    ],
)
def test_rule_paths(rule: str, paths: tuple[set[tuple[str, ...]], set[tuple[str, ...]]] | None) -> None:
    assert rule_paths(rule) == (None if paths is None else (frozenset(paths[0]), frozenset(paths[1])))


def test_rule_view_keeps_only_what_the_paths_reach() -> None:
    value = {
        "resource": {"count": 2, "labelSelector": {"matchLabels": {"a": "b"}}},
        "inference": {"preset": {"name": "phi"}},
        "status": {"conditions": [{"type": "Ready"}]},
    }
    read = frozenset({("resource", "count")})
    tested = frozenset({("inference",), ("tuning",), ("resource",)})
    assert rule_view(value, read, tested) == {"resource": {"count": 2}, "inference": True}
    # a has() through something that is not an object shows it whole, so CEL fails the same way
    assert rule_view({"a": "text"}, frozenset(), frozenset({("a", "b")})) == {"a": "text"}


@pytest.mark.parametrize(
    "value",
    [
        {"tuning": {}, "resource": {"count": 2}},
        {"tuning": {}, "resource": {"count": 1}},
        {"tuning": {}, "resource": {}},
        {"inference": {}, "resource": {"count": 3}, "status": {"x": 1}},
        {"tuning": {}, "resource": "not an object"},
    ],
)
def test_outcome_on_the_view_is_the_outcome_on_the_whole(value: dict[str, Any]) -> None:
    rule = {
        "rule": "!has(self.tuning) || !has(self.resource) || !has(self.resource.count) "
        "|| self.resource.count == 1"
    }

    def messages(value: dict[str, Any]) -> list[str]:
        return [e.message() for e in evaluate_rules([rule], value, None, "", has_old=False)]

    whole = messages(value)
    again = messages(value)  # the remembered outcome
    changed_elsewhere = messages({**value, "status": {"y": 2}})
    assert whole == again == changed_elsewhere
