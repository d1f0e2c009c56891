"""metav1.Condition and the standard helpers to read and write a list of them.

A status carries at most one condition per `type`. The helpers are pure: they return a new list and never
mutate their input, so a reconciler can compute the next status and compare it with the last one before
writing.

Invariant kept by `set_condition` (apimachinery's meta.SetStatusCondition): `lastTransitionTime` moves only
when `status` changes. Updating reason, message or observedGeneration with the same status keeps the old time,
so `kubectl get -o yaml` shows when the condition last flipped, not when it was last reconciled. Time is never
read from a clock here: the caller passes the new condition with the time it wants used on a transition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

from pydantic import Field

from kaito.api.base import ApiModel, Time

__all__ = [
    "CONDITION_FALSE",
    "CONDITION_TRUE",
    "CONDITION_UNKNOWN",
    "Condition",
    "ConditionStatus",
    "condition_status",
    "find_condition",
    "is_condition_true",
    "remove_condition",
    "set_condition",
]

ConditionStatus = Literal["True", "False", "Unknown"]
CONDITION_TRUE: Final = "True"
CONDITION_FALSE: Final = "False"
CONDITION_UNKNOWN: Final = "Unknown"

# The patterns the API server applies to metav1.Condition (k8s.io/apimachinery/pkg/apis/meta/v1/types.go).
_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(ApiModel):
    """One aspect of an object's current state (metav1.Condition)."""

    type: str = Field(
        max_length=316,
        pattern=_TYPE_PATTERN,
        description="Type of condition in CamelCase, e.g. ResourceReady.",
    )
    status: ConditionStatus = Field(description="Status of the condition: True, False or Unknown.")
    observed_generation: int | None = Field(
        default=None,
        ge=0,
        description="The .metadata.generation the condition was set from; older than the object's is stale.",
    )
    last_transition_time: Time = Field(description="When the condition last changed status.")
    reason: str = Field(
        min_length=1,
        max_length=1024,
        pattern=_REASON_PATTERN,
        description="A CamelCase, machine-readable reason for the last transition.",
    )
    message: str = Field(max_length=32768, description="A human-readable sentence about the transition.")

    @property
    def is_true(self) -> bool:
        """Whether the status is True."""
        return self.status == CONDITION_TRUE


def find_condition(conditions: Sequence[Condition] | None, condition_type: str) -> Condition | None:
    """The condition of `condition_type`, or None when there is none."""
    for condition in conditions or ():
        if condition.type == condition_type:
            return condition
    return None


def condition_status(conditions: Sequence[Condition] | None, condition_type: str) -> ConditionStatus:
    """The status of `condition_type`; Unknown when the condition is absent."""
    condition = find_condition(conditions, condition_type)
    return condition.status if condition is not None else "Unknown"


def is_condition_true(conditions: Sequence[Condition] | None, condition_type: str) -> bool:
    """Whether `condition_type` is present with status True."""
    return condition_status(conditions, condition_type) == CONDITION_TRUE


def set_condition(conditions: Sequence[Condition] | None, new: Condition) -> list[Condition]:
    """The conditions with `new` recorded under its type; a new type is appended, order is kept.

    When a condition of that type exists with the same status, its `lastTransitionTime` is kept and only
    reason, message and observedGeneration are taken from `new`; otherwise `new.last_transition_time` is used.
    If nothing changes, the returned list holds the very same condition objects.
    """
    result: list[Condition] = []
    found = False
    for condition in conditions or ():
        if condition.type != new.type:
            result.append(condition)
            continue
        found = True
        if condition.status != new.status:
            result.append(new.model_copy())
            continue
        updated = condition.model_copy(
            update={
                "reason": new.reason,
                "message": new.message,
                "observed_generation": new.observed_generation,
            }
        )
        result.append(condition if updated == condition else updated)
    if not found:
        result.append(new.model_copy())
    return result


def remove_condition(conditions: Sequence[Condition] | None, condition_type: str) -> list[Condition]:
    """The conditions without `condition_type` (unchanged when it is absent)."""
    return [condition for condition in conditions or () if condition.type != condition_type]
