"""The ``scale`` subresource as pure functions: an ``autoscaling/v1`` Scale read from an object, and back.

Where the replicas live is the kind's :class:`ScalePaths` (its strategy answers
:meth:`~kaito.sim.server.strategy.Strategy.scale_paths`): Deployments, ReplicaSets and StatefulSets use
``.spec.replicas`` / ``.status.replicas`` / ``.spec.selector``; a custom resource's CRD names its own paths
(``specReplicasPath``, ``statusReplicasPath``, optional ``labelSelectorPath``), evaluated with kube's JSONPath
(:mod:`kaito.sim.server.jsonpath`). A write of a Scale becomes a merge patch of the replicas field alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jsonpatch

from kaito.sim.server.errors import BadRequest, InternalError
from kaito.sim.server.jsonpath import evaluate_jsonpath

__all__ = ["ScalePaths", "apply_to_scale", "replicas_patch", "scale_of"]

_KEEP_METADATA = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")


@dataclass(frozen=True)
class ScalePaths:
    """Where a kind keeps desired replicas, observed replicas and (optionally) its label selector."""

    spec_replicas: str = ".spec.replicas"
    status_replicas: str = ".status.replicas"
    label_selector: str = ".spec.selector"

    @classmethod
    def from_crd(cls, scale: dict[str, str]) -> ScalePaths:
        """A CRD's ``subresources.scale`` (``labelSelectorPath`` absent: the Scale has no selector)."""
        return cls(
            scale.get("specReplicasPath", ".spec.replicas"),
            scale.get("statusReplicasPath", ".status.replicas"),
            scale.get("labelSelectorPath", ""),
        )


def scale_of(obj: dict[str, Any], paths: ScalePaths) -> dict[str, Any]:
    """The Scale of ``obj``: desired replicas (1 when unset), observed replicas (0), the selector string."""
    meta = obj.get("metadata") or {}
    spec = evaluate_jsonpath(obj, paths.spec_replicas)
    status = evaluate_jsonpath(obj, paths.status_replicas)
    selector_values = evaluate_jsonpath(obj, paths.label_selector) if paths.label_selector else []
    selector = selector_values[0] if selector_values else ""
    if isinstance(selector, dict):
        labels = selector.get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    scale_status: dict[str, Any] = {"replicas": status[0] if status else 0}
    if selector:
        scale_status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in _KEEP_METADATA if k in meta},
        "spec": {"replicas": spec[0] if spec else 1},
        "status": scale_status,
    }


def apply_to_scale(current: dict[str, Any], patch: Any, patch_type: str) -> dict[str, Any]:
    """``patch`` applied to a Scale: a JSON patch, else a merge (what any other patch type amounts to)."""
    if patch_type == "application/json-patch+json":
        try:
            result = jsonpatch.apply_patch(current, patch)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as err:
            raise BadRequest(f"the JSON patch cannot be applied to the Scale: {err}") from None
        return dict(result)
    merged: dict[str, Any] = _merge(current, patch)
    return merged


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


def replicas_patch(paths: ScalePaths, scale: dict[str, Any]) -> dict[str, Any]:
    """The merge patch that sets the object's desired replicas to the Scale's ``spec.replicas``."""
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise BadRequest(
            f"spec.replicas is {replicas!r}; a Scale needs a whole number of replicas, 0 or more"
        )
    keys = [k for k in paths.spec_replicas.split(".") if k]
    out: Any = replicas
    for key in reversed(keys):
        out = {key: out}
    if not isinstance(out, dict):
        raise InternalError(f"the scale path {paths.spec_replicas!r} does not name a field")
    return out
