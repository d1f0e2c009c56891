"""Condition helpers: one condition per type, lastTransitionTime moves only on a status change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from kaito.api.conditions import (
    Condition,
    ConditionStatus,
    condition_status,
    find_condition,
    is_condition_true,
    remove_condition,
    set_condition,
)

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def cond(
    type_: str = "ResourceReady",
    status: ConditionStatus = "True",
    *,
    at: int = 0,
    reason: str = "NodesReady",
    message: str = "",
    generation: int | None = None,
) -> Condition:
    return Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=T0 + timedelta(minutes=at),
        observed_generation=generation,
    )


def test_new_type_is_appended_with_its_time() -> None:
    existing = [cond("ResourceReady")]
    result = set_condition(existing, cond("InferenceReady", "False", at=5))
    assert [c.type for c in result] == ["ResourceReady", "InferenceReady"]
    assert result[1].last_transition_time == T0 + timedelta(minutes=5)
    assert existing == [cond("ResourceReady")]  # the input is not mutated


def test_status_change_moves_the_transition_time() -> None:
    result = set_condition([cond(status="False")], cond(status="True", at=7, reason="Done"))
    assert result == [cond(status="True", at=7, reason="Done")]


def test_same_status_keeps_the_time_but_takes_reason_message_generation() -> None:
    result = set_condition(
        [cond(status="False", reason="Waiting")],
        cond(status="False", at=9, reason="StillWaiting", message="2 of 3 nodes", generation=4),
    )
    assert result == [cond(status="False", at=0, reason="StillWaiting", message="2 of 3 nodes", generation=4)]


def test_unchanged_condition_is_the_same_object() -> None:
    original = cond()
    assert set_condition([original], cond(at=30))[0] is original


def test_set_condition_accepts_no_conditions_yet() -> None:
    assert set_condition(None, cond()) == [cond()]


def test_find_status_and_remove() -> None:
    conditions = [cond("ResourceReady", "True"), cond("InferenceReady", "False")]
    assert find_condition(conditions, "InferenceReady") == conditions[1]
    assert find_condition(conditions, "JobStarted") is None
    assert find_condition(None, "JobStarted") is None
    assert condition_status(conditions, "JobStarted") == "Unknown"
    assert is_condition_true(conditions, "ResourceReady")
    assert not is_condition_true(conditions, "InferenceReady")
    assert not is_condition_true(None, "InferenceReady")
    assert remove_condition(conditions, "ResourceReady") == [conditions[1]]
    assert remove_condition(conditions, "JobStarted") == conditions
    assert conditions[0].is_true and not conditions[1].is_true


def test_condition_wire_form_is_metav1() -> None:
    wire = {
        "type": "Ready",
        "status": "True",
        "observedGeneration": 2,
        "lastTransitionTime": "2024-05-01T12:00:00Z",
        "reason": "NodeReady",
        "message": "",
    }
    assert Condition.model_validate(wire).to_wire() == wire


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "true"),
        ("reason", ""),
        ("reason", "has spaces"),
        ("type", "Bad Type"),
        ("observedGeneration", -1),
    ],
)
def test_condition_refuses_what_the_api_server_refuses(field: str, value: object) -> None:
    wire: dict[str, object] = {
        "type": "Ready",
        "status": "True",
        "lastTransitionTime": "2024-05-01T12:00:00Z",
        "reason": "NodeReady",
        "message": "",
    }
    wire[field] = value
    with pytest.raises(ValidationError):
        Condition.model_validate(wire)


updates = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C"]), st.sampled_from(["True", "False", "Unknown"])),
    max_size=30,
)


@given(updates)
def test_transition_time_is_the_time_of_the_last_status_change(
    steps: list[tuple[str, ConditionStatus]],
) -> None:
    conditions: list[Condition] | None = None
    last_change: dict[str, datetime] = {}
    last_status: dict[str, str] = {}
    for minute, (type_, status) in enumerate(steps):
        conditions = set_condition(conditions, cond(type_, status, at=minute, reason=f"R{minute}"))
        if last_status.get(type_) != status:
            last_change[type_] = T0 + timedelta(minutes=minute)
            last_status[type_] = status
    result = conditions or []
    assert len({c.type for c in result}) == len(result)
    assert {c.type: c.last_transition_time for c in result} == last_change
    assert {c.type: c.status for c in result} == last_status
