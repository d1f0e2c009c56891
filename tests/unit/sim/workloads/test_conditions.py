"""Tests of set_condition: one condition per type, and lastTransitionTime moving only with the status."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.sim.workloads.conditions import set_condition

EARLIER, NOW = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"


def existing(status: str = "True", reason: str = "R", message: str = "m") -> dict[str, Any]:
    return {
        "type": "Available",
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": EARLIER,
        "lastTransitionTime": EARLIER,
    }


def test_a_new_condition_is_appended_after_the_others() -> None:
    conditions = [{"type": "Other", "status": "True"}]
    set_condition(conditions, "Available", "True", "R", "m", NOW)
    assert conditions == [
        {"type": "Other", "status": "True"},
        {"type": "Available", "status": "True", "reason": "R", "message": "m", "lastTransitionTime": NOW},
    ]


@pytest.mark.parametrize(
    ("status", "reason", "touch", "update_time", "expected"),
    [
        # nothing changed: the condition is left exactly as it was
        ("True", "R", False, True, existing()),
        # progress was made: rewritten, but still True, so the transition time stays
        ("True", "R", True, True, {**existing(), "lastUpdateTime": NOW}),
        # a new reason with the same status: rewritten, transition time kept
        ("True", "S", False, True, {**existing(reason="S"), "lastUpdateTime": NOW}),
        # the status flips: both times move
        ("False", "R", False, True, {**existing("False"), "lastUpdateTime": NOW, "lastTransitionTime": NOW}),
        # without update_time (Job conditions) no lastUpdateTime is written
        (
            "False",
            "R",
            False,
            False,
            {**existing("False"), "lastTransitionTime": NOW, "lastUpdateTime": None},
        ),
    ],
)
def test_an_existing_condition(
    status: str, reason: str, touch: bool, update_time: bool, expected: dict[str, Any]
) -> None:
    conditions = [existing()]
    set_condition(conditions, "Available", status, reason, "m", NOW, update_time=update_time, touch=touch)
    assert conditions == [{k: v for k, v in expected.items() if v is not None}]
