"""What an InferenceSet should look like in the cluster, as pure functions of the set and its Workspaces.

- `plan_inferenceset(iset, workspaces)` decides which Workspaces to create, update and delete, and the status.
  Workspaces are named `<set>-<index>` for index 0..replicas-1 (KAITO names them the same way); scaling down
  deletes the highest indexes first, so `kubectl scale --replicas 1` keeps `<set>-0`.
- `nodeCountLimit` caps replicas times nodes per replica. Nodes per replica are read from a Workspace's
  `status.targetNodeCount` once its plan is known (1 before that); replicas beyond the cap are not
  created, and the `ReplicasLimited` condition says so in a sentence naming the field, the limit and the
  count asked for.
- `ReplicasReady` names, while it is False, the first Workspace that is not ready and what its
  `WorkspaceSucceeded` condition says, so `kubectl get inferenceset -o yaml` (and a MultiRoleInference
  above the set) shows why without opening the Workspace. Its reason is that Workspace's reason when it
  reports a problem (a missing Secret, nodes that do not exist, a model that does not fit); while the
  Workspace is only on its way (nodes or workload coming up) it is `ReplicasNotReady`.
- `render_scaled_object(iset)` is the KEDA ScaledObject KAITO's `scaledobject.kaito.sh/*` annotations ask
  for (None when `auto-provision` is not "true"): it targets the set's `scale` subresource.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from kaito.api import (
    CONDITION_INFERENCE_READY,
    CONDITION_WORKSPACE_SUCCEEDED,
    KEDA_ANNOTATION_AUTO_PROVISION,
    KEDA_ANNOTATION_MAX_REPLICAS,
    KEDA_ANNOTATION_METRIC_NAME,
    KEDA_ANNOTATION_MIN_REPLICAS,
    KEDA_ANNOTATION_THRESHOLD,
    KIND_INFERENCESET,
    LABEL_INFERENCESET,
    Condition,
    InferenceSet,
    InferenceSetStatus,
    controller_reference,
    set_condition,
)

__all__ = [
    "CONDITION_REPLICAS_LIMITED",
    "CONDITION_REPLICAS_READY",
    "KEDA_SCALER_ADDRESS",
    "REASON_ALL_REPLICAS_READY",
    "REASON_REPLICAS_NOT_READY",
    "InferenceSetPlan",
    "plan_inferenceset",
    "render_scaled_object",
    "render_workspace",
    "selector_string",
    "workspace_index",
    "workspace_name",
]

CONDITION_REPLICAS_READY: Final = "ReplicasReady"
CONDITION_REPLICAS_LIMITED: Final = "ReplicasLimited"
REASON_REPLICAS_NOT_READY: Final = "ReplicasNotReady"
REASON_ALL_REPLICAS_READY: Final = "AllReplicasReady"
# WorkspaceSucceeded's reasons while an inference Workspace is on its way (kaito.controllers.workspace_status)
_ON_ITS_WAY: Final = frozenset({"WaitingForNodes", "WaitingForWorkload"})
KEDA_SCALER_ADDRESS: Final = "keda-kaito-scaler-svc.keda.svc.cluster.local:10450"
"""The external scaler KAITO's keda-kaito-scaler serves; the ScaledObject's trigger points at it."""

_WORKSPACE_API_VERSION: Final = "kaito.sh/v1beta1"
_SET_API_VERSION: Final = "kaito.sh/v1beta1"


def workspace_name(set_name: str, index: int) -> str:
    """The name of replica `index` of the set."""
    return f"{set_name}-{index}"


def workspace_index(set_name: str, name: str) -> int | None:
    """The replica index a Workspace name stands for, or None if it is not `<set>-<n>`."""
    prefix = f"{set_name}-"
    tail = name[len(prefix) :] if name.startswith(prefix) else ""
    return int(tail) if tail.isdigit() else None


def selector_string(iset: InferenceSet) -> str:
    """`spec.labelSelector.matchLabels` as the `k=v,k=v` string the scale subresource reports."""
    labels = _set_labels(iset)
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def _set_labels(iset: InferenceSet) -> dict[str, str]:
    return {**(iset.spec.label_selector.match_labels or {}), LABEL_INFERENCESET: iset.metadata.name or ""}


def render_workspace(iset: InferenceSet, index: int) -> dict[str, Any]:
    """Workspace `index` of the set: the template's resource and inference, the set's labels, owned by it."""
    template = iset.spec.template
    template_meta = template.metadata or {}
    labels = {**(template_meta.get("labels") or {}), **_set_labels(iset)}
    metadata: dict[str, Any] = {
        "name": workspace_name(iset.metadata.name or "", index),
        "namespace": iset.metadata.namespace,
        "labels": labels,
        "ownerReferences": [
            controller_reference(_SET_API_VERSION, KIND_INFERENCESET, iset.metadata).to_wire()
        ],
    }
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(template_meta["annotations"])
    resource: dict[str, Any] = {
        "labelSelector": {"matchLabels": dict(iset.spec.label_selector.match_labels or {})}
    }
    if template.resource is not None:
        resource.update(template.resource.to_wire())
    return {
        "apiVersion": _WORKSPACE_API_VERSION,
        "kind": "Workspace",
        "metadata": metadata,
        "resource": resource,
        "inference": template.inference.to_wire(),
    }


@dataclass(frozen=True)
class InferenceSetPlan:
    """What to do: Workspaces to create or update (whole objects), names to delete, and the new status."""

    create: list[dict[str, Any]] = field(default_factory=list)
    update: list[dict[str, Any]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    status: InferenceSetStatus = field(default_factory=InferenceSetStatus)
    allowed_replicas: int = 0


def _condition_of(workspace: Mapping[str, Any], type_: str) -> Mapping[str, Any]:
    for condition in (workspace.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return dict(condition)
    return {}


def _ready(workspace: Mapping[str, Any]) -> bool:
    return _condition_of(workspace, CONDITION_INFERENCE_READY).get("status") == "True"


def _not_ready(kept: Mapping[int, Mapping[str, Any]], allowed: int, set_name: str) -> tuple[str, str]:
    """(reason, sentence) of the first replica that is not ready: its Workspace's own words."""
    for index in range(allowed):
        workspace = kept.get(index)
        name = workspace_name(set_name, index)
        if workspace is None:
            return REASON_REPLICAS_NOT_READY, f"Workspace {name} is not created yet."
        if _ready(workspace):
            continue
        summary = _condition_of(workspace, CONDITION_WORKSPACE_SUCCEEDED)
        reason, message = str(summary.get("reason") or ""), str(summary.get("message") or "")
        if not message:
            return REASON_REPLICAS_NOT_READY, f"Workspace {name} is being planned."
        sentence = f"Workspace {name}: {message}"
        if reason in _ON_ITS_WAY or not reason:
            return REASON_REPLICAS_NOT_READY, sentence
        return reason, sentence
    return REASON_REPLICAS_NOT_READY, ""


def _nodes_per_replica(workspaces: Sequence[Mapping[str, Any]]) -> int:
    counts = [int((w.get("status") or {}).get("targetNodeCount") or 0) for w in workspaces]
    return max([1, *counts])


def plan_inferenceset(
    iset: InferenceSet, workspaces: Sequence[Mapping[str, Any]], now: datetime
) -> InferenceSetPlan:
    """The Workspaces the set should have given those it has (owned by it), and the status to write."""
    set_name = iset.metadata.name or ""
    desired = iset.spec.desired_replicas
    per_replica = _nodes_per_replica(workspaces)
    limit = iset.spec.node_count_limit
    allowed = desired if not limit else min(desired, limit // per_replica)
    by_index: dict[int, Mapping[str, Any]] = {}
    delete: list[str] = []
    for workspace in workspaces:
        name = str((workspace.get("metadata") or {}).get("name", ""))
        index = workspace_index(set_name, name)
        if index is None or index >= allowed:
            delete.append(name)
        else:
            by_index[index] = workspace
    create, update = [], []
    for index in range(allowed):
        wanted = render_workspace(iset, index)
        have = by_index.get(index)
        if have is None:
            create.append(wanted)
        elif have.get("resource") != wanted["resource"] or have.get("inference") != wanted["inference"]:
            update.append(wanted)
    kept = [w for i, w in by_index.items() if i < allowed]
    ready = sum(1 for w in kept if _ready(w))
    generation = iset.metadata.generation
    conditions = list(iset.status.conditions or []) if iset.status else []
    if allowed < desired:
        limited = Condition(
            type=CONDITION_REPLICAS_LIMITED,
            status="True",
            observed_generation=generation,
            last_transition_time=now,
            reason="NodeCountLimitReached",
            message=(
                f"spec.nodeCountLimit: {desired} replica(s) of {per_replica} GPU node(s) each need "
                f"{desired * per_replica} nodes, over the limit of {limit}; {allowed} replica(s) are kept. "
                f"Raise spec.nodeCountLimit to at least {desired * per_replica} or lower spec.replicas."
            ),
        )
    else:
        limited = Condition(
            type=CONDITION_REPLICAS_LIMITED,
            status="False",
            observed_generation=generation,
            last_transition_time=now,
            reason="WithinNodeCountLimit",
            message=f"{desired} replica(s) fit the node count limit"
            + (f" of {limit}." if limit else " (none set)."),
        )
    conditions = set_condition(conditions, limited)
    all_ready = ready == allowed and len(kept) == allowed
    reason, message = REASON_ALL_REPLICAS_READY, f"{ready} of {allowed} Workspace(s) have inference ready."
    if not all_ready:
        reason, why = _not_ready(by_index, allowed, set_name)
        message = f"{message} {why}".rstrip()
    conditions = set_condition(
        conditions,
        Condition(
            type=CONDITION_REPLICAS_READY,
            status="True" if all_ready else "False",
            observed_generation=generation,
            last_transition_time=now,
            reason=reason,
            message=message[:32768],
        ),
    )
    status = InferenceSetStatus(
        replicas=len(kept),
        ready_replicas=ready,
        selector=selector_string(iset),
        conditions=conditions,
        performance=iset.status.performance if iset.status else None,
        auto_upgrade=iset.status.auto_upgrade if iset.status else None,
    )
    return InferenceSetPlan(create, update, delete, status, allowed)


def render_scaled_object(iset: InferenceSet) -> dict[str, Any] | None:
    """The KEDA ScaledObject the set's `scaledobject.kaito.sh/*` annotations describe, or None."""
    annotations = iset.metadata.annotations or {}
    if annotations.get(KEDA_ANNOTATION_AUTO_PROVISION, "").lower() != "true":
        return None
    name = iset.metadata.name or ""
    minimum = int(annotations.get(KEDA_ANNOTATION_MIN_REPLICAS, "1"))
    maximum = int(
        annotations.get(KEDA_ANNOTATION_MAX_REPLICAS, str(max(iset.spec.desired_replicas, minimum)))
    )
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": name,
            "namespace": iset.metadata.namespace,
            "labels": {LABEL_INFERENCESET: name},
            "ownerReferences": [
                controller_reference(_SET_API_VERSION, KIND_INFERENCESET, iset.metadata).to_wire()
            ],
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": _SET_API_VERSION, "kind": KIND_INFERENCESET, "name": name},
            "minReplicaCount": minimum,
            "maxReplicaCount": maximum,
            "triggers": [
                {
                    "type": "external",
                    "metadata": {
                        "scalerAddress": KEDA_SCALER_ADDRESS,
                        "inferenceSetName": name,
                        "inferenceSetNamespace": iset.metadata.namespace or "default",
                        "metricName": annotations.get(
                            KEDA_ANNOTATION_METRIC_NAME, "vllm:num_requests_waiting"
                        ),
                        "threshold": annotations.get(KEDA_ANNOTATION_THRESHOLD, "10"),
                    },
                }
            ],
        },
    }
