"""MultiRoleInference as InferenceSets, as pure functions: one set `<name>-<role>` per role.

`render_role_sets(mri)` gives the InferenceSets (the model as preset name, the role's instance type and
replicas, the MultiRoleInference's labels plus `kaito.sh/role`, owned by it). `multirole_conditions(mri,
sets, now)` gives the status conditions, read from the sets as a Deployment reads its ReplicaSets:

    PrefillReady, DecodeReady   one per role (KAITO's names): True once the role's InferenceSet has all
                                its replicas ready; False with the set's own sentence otherwise. Its reason
                                is the set's when the set reports a problem (a missing model-access
                                Secret, nodes that do not exist, a model that does not fit), so the
                                Workspace's words reach the MultiRoleInference; `<Role>NotReady` while the
                                role is only on its way, `<Role>NotFound` before its set exists.
    RolesReady                  all roles: True when every role is ready; False with the ready replicas
                                per role and, for each role with a problem, its sentence.

`multirole_events(old, new)` lists the Events that tell a user what changed: a Warning when a role
reports a new problem, a Normal one when a role or all of them become ready. What is left of KAITO's
disaggregated serving is listed in `kaito.api.multiroleinference`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from kaito.api import (
    KIND_MULTIROLEINFERENCE,
    Condition,
    ConditionStatus,
    MultiRoleInference,
    MultiRoleInferenceRole,
    controller_reference,
    find_condition,
    set_condition,
)
from kaito.controllers.inferenceset_plan import (
    CONDITION_REPLICAS_READY,
    REASON_ALL_REPLICAS_READY,
    REASON_REPLICAS_NOT_READY,
)

__all__ = [
    "CONDITION_DECODE_READY",
    "CONDITION_PREFILL_READY",
    "CONDITION_ROLES_READY",
    "LABEL_ROLE",
    "MultiRoleEvent",
    "multirole_conditions",
    "multirole_events",
    "render_role_sets",
    "role_condition_type",
    "role_set_name",
    "roles_ready",
]

CONDITION_ROLES_READY: Final = "RolesReady"
CONDITION_PREFILL_READY: Final = "PrefillReady"
CONDITION_DECODE_READY: Final = "DecodeReady"
LABEL_ROLE: Final = "kaito.sh/role"
_NOTE: Final = (
    " Each role serves the whole model: kaito-py does not transfer the KV cache between prefill and "
    "decode, nor run an endpoint picker."
)


def role_set_name(mri: MultiRoleInference, role: str) -> str:
    """The InferenceSet of one role."""
    return f"{mri.metadata.name}-{role}"


def role_condition_type(role: str) -> str:
    """The condition of one role: `PrefillReady` or `DecodeReady`."""
    return f"{role.capitalize()}Ready"


def render_role_sets(mri: MultiRoleInference) -> list[dict[str, Any]]:
    """One InferenceSet per role, owned by the MultiRoleInference."""
    owner = controller_reference("kaito.sh/v1alpha1", KIND_MULTIROLEINFERENCE, mri.metadata).to_wire()
    preset: dict[str, Any] = {"name": mri.spec.model.name}
    if mri.spec.model.model_access_secret:
        preset["presetOptions"] = {"modelAccessSecret": mri.spec.model.model_access_secret}
    sets = []
    for role in mri.spec.roles:
        labels = {**(mri.spec.label_selector.match_labels or {}), LABEL_ROLE: role.type}
        template: dict[str, Any] = {"inference": {"preset": preset}}
        if role.instance_type:
            template["resource"] = {"instanceType": role.instance_type}
        sets.append(
            {
                "apiVersion": "kaito.sh/v1beta1",
                "kind": "InferenceSet",
                "metadata": {
                    "name": role_set_name(mri, role.type),
                    "namespace": mri.metadata.namespace,
                    "labels": labels,
                    "ownerReferences": [owner],
                },
                "spec": {
                    "replicas": _wanted(role),
                    "labelSelector": {"matchLabels": labels},
                    "template": template,
                },
            }
        )
    return sets


def _wanted(role: MultiRoleInferenceRole) -> int:
    return 1 if role.replicas is None else role.replicas


@dataclass(frozen=True)
class _RoleState:
    condition: Condition
    ready: int
    wanted: int
    problem: bool  # the role's set reports something a user must act on


def _set_condition(found: Mapping[str, Any], type_: str) -> Mapping[str, Any]:
    for condition in (found.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return dict(condition)
    return {}


def _role_state(
    mri: MultiRoleInference, role: MultiRoleInferenceRole, found: Mapping[str, Any] | None, now: datetime
) -> _RoleState:
    name = role_set_name(mri, role.type)
    title = role.type.capitalize()
    wanted = _wanted(role)
    status = (found or {}).get("status") or {}
    ready = int(status.get("readyReplicas") or 0)
    problem = False
    state: ConditionStatus
    if found is None:
        state, reason, message = "False", f"{title}NotFound", f"InferenceSet {name} does not exist yet."
    elif ready == wanted and int(status.get("replicas") or 0) == wanted:
        state, reason = "True", f"{title}Ready"
        message = f"InferenceSet {name}: {ready} of {wanted} replica(s) ready."
    else:
        replicas = _set_condition(found, CONDITION_REPLICAS_READY)
        said = str(replicas.get("message") or f"{ready} of {wanted} replica(s) ready.")
        set_reason = str(replicas.get("reason") or "")
        problem = set_reason not in ("", REASON_REPLICAS_NOT_READY, REASON_ALL_REPLICAS_READY)
        state, reason = "False", set_reason if problem else f"{title}NotReady"
        message = f"InferenceSet {name}: {said}"
    condition = Condition(
        type=role_condition_type(role.type),
        status=state,
        observed_generation=mri.metadata.generation,
        last_transition_time=now,
        reason=reason,
        message=message[:32768],
    )
    return _RoleState(condition, ready, wanted, problem)


def _states(
    mri: MultiRoleInference, sets: Sequence[Mapping[str, Any]], now: datetime
) -> list[tuple[str, _RoleState]]:
    by_name = {s["metadata"]["name"]: s for s in sets}
    return [
        (role.type, _role_state(mri, role, by_name.get(role_set_name(mri, role.type)), now))
        for role in mri.spec.roles
    ]


def _roles_ready(
    mri: MultiRoleInference, states: Sequence[tuple[str, _RoleState]], now: datetime
) -> Condition:
    if all(state.condition.status == "True" for _, state in states):
        return Condition(
            type=CONDITION_ROLES_READY,
            status="True",
            observed_generation=mri.metadata.generation,
            last_transition_time=now,
            reason="RolesReady",
            message=f"every role's InferenceSet is ready.{_NOTE}",
        )
    counts = ", ".join(f"{role} {state.ready}/{state.wanted}" for role, state in states)
    problems = [(role, state) for role, state in states if state.problem]
    why = "".join(f" {role}: {state.condition.message}" for role, state in problems)
    return Condition(
        type=CONDITION_ROLES_READY,
        status="False",
        observed_generation=mri.metadata.generation,
        last_transition_time=now,
        reason=problems[0][1].condition.reason if problems else "RolesNotReady",
        message=f"ready replicas per role: {counts}.{why}{_NOTE}"[:32768],
    )


def roles_ready(mri: MultiRoleInference, sets: Sequence[Mapping[str, Any]], now: datetime) -> Condition:
    """`RolesReady`: True when every role's InferenceSet has all its replicas ready."""
    return _roles_ready(mri, _states(mri, sets, now), now)


def multirole_conditions(
    mri: MultiRoleInference, sets: Sequence[Mapping[str, Any]], now: datetime
) -> list[Condition]:
    """The MultiRoleInference's next conditions: one per role, then `RolesReady` (module docstring)."""
    states = _states(mri, sets, now)
    conditions = list(mri.status.conditions or []) if mri.status else []
    for _, state in states:
        conditions = set_condition(conditions, state.condition)
    return set_condition(conditions, _roles_ready(mri, states, now))


@dataclass(frozen=True)
class MultiRoleEvent:
    """An Event to record about the MultiRoleInference."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


def multirole_events(old: Sequence[Condition] | None, new: Sequence[Condition]) -> list[MultiRoleEvent]:
    """Events for the conditions whose status or reason changed: a role's new problem (Warning), a role
    or all roles becoming ready (Normal). A role merely on its way is not news."""
    events: list[MultiRoleEvent] = []
    for condition in new:
        before = find_condition(old, condition.type)
        if before is not None and (before.status, before.reason) == (condition.status, condition.reason):
            continue
        text = f"{condition.type} is {condition.status}: {condition.message}"
        if condition.status == "True":
            events.append(MultiRoleEvent("Normal", condition.reason, text))
        elif condition.type != CONDITION_ROLES_READY and not _on_its_way(condition):
            events.append(MultiRoleEvent("Warning", condition.reason, text))
    return events


def _on_its_way(condition: Condition) -> bool:
    title = condition.type.removesuffix("Ready")
    return condition.reason in (f"{title}NotReady", f"{title}NotFound")
