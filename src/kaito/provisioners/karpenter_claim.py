"""Pure decisions of the Karpenter provisioner: the NodeClaim for a Machine and what a NodeClaim's status
means for it.

A Machine becomes one cluster-scoped `karpenter.sh/v1` NodeClaim, shaped as KAITO makes them:

- name `ws` + 9 hex digits of the Machine name's SHA-256 (deterministic: a restarted controller finds
  the claim it made instead of making another);
- labels `karpenter.sh/nodepool: <node pool>`, `kaito.sh/machine`, `kaito.sh/machine-type: gpu`,
  `kaito.sh/workspace`, `kaito.sh/workspacenamespace` (and the Machine's own node labels); Karpenter
  copies them onto the Node, which is how the Node is tied back to its Machine;
- annotation `karpenter.sh/do-not-disrupt: "true"`: consolidation must not take an inference node away;
- spec: `nodeClassRef` from the config, requirements pinning `node.kubernetes.io/instance-type` to the
  Machine's instance type (plus the node pool and Linux), `resources.requests` of the SKU's
  `nvidia.com/gpu` count and `storage` = `spec.osDiskSizeGB`, the GPU taint `sku=gpu:NoSchedule` (and the
  Machine's taints), and `expireAfter` (default `Never`: Karpenter's 720h default would recycle GPU
  nodes every 30 days under a running model).

Observation follows Karpenter's conditions: Launched True -> RUNNING (providerID, nodeName); Launched False
(Karpenter then deletes the claim itself, e.g. InsufficientCapacity) -> FAILED with its reason and message;
a claim being deleted for another reason -> DELETING; no claim -> GONE.

`trim_nodeclaim` is what the operator's informer cache keeps of a claim: its metadata and the status fields
`observe_nodeclaim` reads (conditions, providerID, nodeName); the spec and the status's capacity,
allocatable and image id are never read from the cache.

`owned_nodeclaim` recognises our claims for the orphan sweep: labelled with our node pool and
`kaito.sh/machine`, aged by `metadata.creationTimestamp`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from kaito.api import names
from kaito.api.machine import Machine
from kaito.provisioners.base import ObservedState, OwnedResource
from kaito.runtimes.errors import UnknownSkuError
from kaito.runtimes.skus import get_gpu_config

__all__ = [
    "ANNOTATION_DO_NOT_DISRUPT",
    "INSTANCE_TYPE_LABEL",
    "LABEL_NODE_POOL",
    "NODECLAIM_API_VERSION",
    "NODECLAIM_KIND",
    "KarpenterConfig",
    "build_nodeclaim",
    "nodeclaim_name",
    "observe_nodeclaim",
    "owned_nodeclaim",
    "trim_nodeclaim",
]

NODECLAIM_API_VERSION: Final = "karpenter.sh/v1"
NODECLAIM_KIND: Final = "NodeClaim"
LABEL_NODE_POOL: Final = "karpenter.sh/nodepool"
ANNOTATION_DO_NOT_DISRUPT: Final = "karpenter.sh/do-not-disrupt"
INSTANCE_TYPE_LABEL: Final = "node.kubernetes.io/instance-type"
_CAPACITY_REASONS: Final = frozenset({"InsufficientCapacity", "InsufficientCapacityError"})


@dataclass(frozen=True)
class KarpenterConfig:
    """Where NodeClaims point and how they are labelled."""

    node_class_group: str = "karpenter.azure.com"
    node_class_kind: str = "AKSNodeClass"
    node_class_name: str = "image-family-ubuntu"
    node_pool: str = "kaito"
    expire_after: str = "Never"

    def __post_init__(self) -> None:
        for label in ("node_class_group", "node_class_kind", "node_class_name", "node_pool"):
            if not getattr(self, label):
                raise ValueError(
                    f"KarpenterConfig.{label} is empty; NodeClaims need a {label.replace('_', ' ')}"
                )


def nodeclaim_name(machine_name: str) -> str:
    """KAITO's claim name: `ws` + 9 hex digits of the Machine name's SHA-256."""
    return "ws" + hashlib.sha256(machine_name.encode()).hexdigest()[:9]


def _gpu_count(instance_type: str) -> int | None:
    try:
        return get_gpu_config(instance_type).gpu_count
    except UnknownSkuError:
        return None  # a size our catalog does not know: let Karpenter judge it by its name alone


def build_nodeclaim(machine: Machine, config: KarpenterConfig) -> dict[str, Any]:
    """The NodeClaim (a dict in wire form) for one Machine (see the module docstring)."""
    name = machine.metadata.name or ""
    labels = dict(machine.spec.node_labels or {})
    labels |= {
        LABEL_NODE_POOL: config.node_pool,
        names.LABEL_MACHINE: name,
        names.LABEL_MACHINE_TYPE: "gpu",
    }
    ref = machine.spec.workspace_ref
    if ref is not None:
        labels.setdefault(names.LABEL_WORKSPACE, ref.name)
        labels.setdefault(names.LABEL_WORKSPACE_NAMESPACE, ref.namespace)
    requests: dict[str, Any] = {}
    gpus = _gpu_count(machine.spec.instance_type)
    if gpus is not None:
        requests["nvidia.com/gpu"] = str(gpus)
    if machine.spec.os_disk_size_gb is not None:
        requests["storage"] = f"{machine.spec.os_disk_size_gb}Gi"
    taints = [{"key": names.GPU_TAINT_KEY, "value": names.GPU_TAINT_VALUE, "effect": names.GPU_TAINT_EFFECT}]
    for taint in machine.spec.taints or []:
        wire = {"key": taint.key, "effect": taint.effect} | ({"value": taint.value} if taint.value else {})
        if wire not in taints:
            taints.append(wire)
    spec: dict[str, Any] = {
        "nodeClassRef": {
            "group": config.node_class_group,
            "kind": config.node_class_kind,
            "name": config.node_class_name,
        },
        "requirements": [
            {"key": INSTANCE_TYPE_LABEL, "operator": "In", "values": [machine.spec.instance_type]},
            {"key": LABEL_NODE_POOL, "operator": "In", "values": [config.node_pool]},
            {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
        ],
        "taints": taints,
        "expireAfter": config.expire_after,
    }
    if requests:
        spec["resources"] = {"requests": requests}
    annotations = {ANNOTATION_DO_NOT_DISRUPT: "true"}
    if machine.spec.image_family is not None:  # KAITO's NodeClaims carry it for the node class to read
        annotations[names.ANNOTATION_NODE_IMAGE_FAMILY] = machine.spec.image_family
    return {
        "apiVersion": NODECLAIM_API_VERSION,
        "kind": NODECLAIM_KIND,
        "metadata": {
            "name": nodeclaim_name(name),
            "labels": labels,
            "annotations": annotations,
        },
        "spec": spec,
    }


def observe_nodeclaim(claim: Mapping[str, Any] | None, *, machine_name: str = "") -> ObservedState:
    """What a NodeClaim (None: there is none) means for its Machine."""
    resource = f"NodeClaim {nodeclaim_name(machine_name)}" if machine_name else "NodeClaim"
    if claim is None:
        return ObservedState.gone(resource)
    resource = f"NodeClaim {(claim.get('metadata') or {}).get('name', '')}"
    status = claim.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    launched = conditions.get("Launched") or {}
    deleting = bool((claim.get("metadata") or {}).get("deletionTimestamp"))
    if launched.get("status") == "False":
        reason = str(launched.get("reason") or "LaunchFailed")
        message = str(launched.get("message") or f"Karpenter could not launch {resource}.")
        return ObservedState.failed(
            "InsufficientCapacity" if reason in _CAPACITY_REASONS else reason, message, resource=resource
        )
    if deleting:
        return ObservedState.deleting(resource)
    if launched.get("status") == "True":
        return ObservedState.running(
            resource, provider_id=status.get("providerID") or None, node_name=status.get("nodeName") or None
        )
    if not conditions:
        return ObservedState.pending(resource, f"Karpenter has not picked up {resource} yet.")
    detail = launched.get("message") or "awaiting launch"
    return ObservedState.provisioning(resource, f"{resource} is launching ({detail}).")


_CACHED_STATUS: Final = ("conditions", "providerID", "nodeName")


def trim_nodeclaim(claim: Mapping[str, Any]) -> Mapping[str, Any]:
    """The claim as the cache keeps it: apiVersion, kind, metadata, the status `observe_nodeclaim` reads."""
    trimmed = {key: claim[key] for key in ("apiVersion", "kind", "metadata") if key in claim}
    status = claim.get("status")
    if isinstance(status, Mapping):
        trimmed["status"] = {key: status[key] for key in _CACHED_STATUS if key in status}
    return trimmed


def owned_nodeclaim(claim: Mapping[str, Any], node_pool: str) -> OwnedResource | None:
    """The claim as an `OwnedResource` when kaito made it (labels `karpenter.sh/nodepool=<node_pool>` and
    `kaito.sh/machine`), else None: a claim without both is never ours to touch."""
    meta = claim.get("metadata") or {}
    labels = meta.get("labels") or {}
    machine = labels.get(names.LABEL_MACHINE)
    if labels.get(LABEL_NODE_POOL) != node_pool or not machine:
        return None
    name = str(meta.get("name") or "")
    return OwnedResource(
        name=name,
        machine=str(machine),
        created=_parse_time(meta.get("creationTimestamp")),
        deleting=bool(meta.get("deletionTimestamp")),
        resource=f"NodeClaim {name}",
    )


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
