"""MultiRoleInference as InferenceSets, as pure functions: one set `<name>-<role>` per role.

`render_role_sets(mri)` gives the InferenceSets (the model as preset name, the role's instance type and
replicas, the MultiRoleInference's labels plus `kaito.sh/role`, owned by it); `roles_ready(mri, sets, now)`
the `RolesReady` condition from their ready replicas. What is left of KAITO's disaggregated serving is
listed in `kaito.api.multiroleinference`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from kaito.api import KIND_MULTIROLEINFERENCE, Condition, MultiRoleInference, controller_reference

__all__ = ["CONDITION_ROLES_READY", "LABEL_ROLE", "render_role_sets", "role_set_name", "roles_ready"]

CONDITION_ROLES_READY: Final = "RolesReady"
LABEL_ROLE: Final = "kaito.sh/role"


def role_set_name(mri: MultiRoleInference, role: str) -> str:
    """The InferenceSet of one role."""
    return f"{mri.metadata.name}-{role}"


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
                    "replicas": 1 if role.replicas is None else role.replicas,
                    "labelSelector": {"matchLabels": labels},
                    "template": template,
                },
            }
        )
    return sets


def roles_ready(mri: MultiRoleInference, sets: Sequence[Mapping[str, Any]], now: datetime) -> Condition:
    """`RolesReady`: True when every role's InferenceSet has all its replicas ready."""
    by_name = {s["metadata"]["name"]: s for s in sets}
    waiting = []
    for role in mri.spec.roles:
        found = by_name.get(role_set_name(mri, role.type)) or {}
        status = found.get("status") or {}
        wanted = 1 if role.replicas is None else role.replicas
        if status.get("readyReplicas", 0) != wanted:
            waiting.append(f"{role.type} {status.get('readyReplicas', 0)}/{wanted}")
    note = (
        " Each role serves the whole model: kaito-py does not transfer the KV cache between prefill and "
        "decode, nor run an endpoint picker."
    )
    if waiting:
        return Condition(
            type=CONDITION_ROLES_READY,
            status="False",
            observed_generation=mri.metadata.generation,
            last_transition_time=now,
            reason="RolesNotReady",
            message=f"ready replicas per role: {', '.join(waiting)}.{note}",
        )
    return Condition(
        type=CONDITION_ROLES_READY,
        status="True",
        observed_generation=mri.metadata.generation,
        last_transition_time=now,
        reason="RolesReady",
        message=f"every role's InferenceSet is ready.{note}",
    )
