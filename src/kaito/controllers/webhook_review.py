"""What the `/validate-workspace` admission webhook answers: pure functions of an AdmissionReview.

`review_workspace(review, nodes=...)` returns the AdmissionReview response (admission.k8s.io/v1). It is
KAITO's workspace webhook (api/v1beta1/workspace_validation.go) on kaito-py's own checks:

- CREATE: `kaito.api.validate` (names, one of inference/tuning, preset in the catalog listing the known ones,
  images, adapters, data sources) and the sizing plan (`resolve_plan`): an unknown instance type, a model
  that does not fit with the sizing sentence, bring-your-own nodes without GPU labels when Ready nodes
  already match the selector (with none matching yet, nothing can be known and the create is allowed: the
  controller reports NodesNotFound until nodes are labelled). With `inference.config` set the fit check is
  left to the controller, which reads the ConfigMap the plan is sized with.
- KAITO's escape hatch: the annotation `kaito.sh/bypass-resource-checks` present (any value, as KAITO
  tests it) skips the fit check only; the preset and the SKU must still be known.
- UPDATE: KAITO's update rules only (an update is not re-validated as a create, so the operator's own
  finalizer and annotation writes always pass): inference and tuning cannot be toggled;
  `resource.count` (when set before and after), `resource.instanceType`, `resource.labelSelector`,
  `resource.partition`, `inference.preset`, `tuning.preset`, `tuning.method` and `tuning.input.name` are
  immutable.
- DELETE and CONNECT are allowed (the webhook is not registered for them anyway).

Refusals are worded as kube-apiserver words field errors (`field.Error`): `<path>: Invalid value: ...`,
`<path>: Forbidden: field is immutable: ...`, several joined as `[a, b]`; paths are wire paths of the
Workspace, whose fields sit at the top level (`resource.instanceType`, `inference.preset.name`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kaito.api import (
    ANNOTATION_BYPASS_RESOURCE_CHECKS,
    FieldError,
    InvalidObjectError,
    Workspace,
    check_workspace,
    render_value,
)
from kaito.controllers.workspace_plan import (
    PlanProblem,
    known_presets,
    resolve_plan,
    select_byo_nodes,
    tunable_presets,
)
from kaito.runtimes import UnknownSkuError, get_gpu_config, is_hugging_face_id, is_unlisted_n_series

__all__ = [
    "KubeFieldError",
    "admission_response",
    "create_errors",
    "render_errors",
    "review_workspace",
    "update_errors",
]

# PlanProblem reasons the webhook refuses; the others (NodesNotFound, too few BYO nodes yet) can change
# without editing the Workspace, so the controller reports them as conditions instead.
_REFUSED_PLAN_REASONS = frozenset(
    {"UnknownPreset", "UnknownInstanceType", "SizingRefused", "NodeLabelsMissing"}
)


@dataclass(frozen=True)
class KubeFieldError:
    """One refusal in kube's `field.Error` form: `<path>: <Type>: <detail>`."""

    path: str
    type: Literal["Invalid value", "Forbidden", "Required value"]
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.type}: {self.detail}" if self.path else f"{self.type}: {self.detail}"


def render_errors(errors: Sequence[KubeFieldError]) -> str:
    """kube's aggregate: one error as it is, several as `[a, b]`."""
    texts = [str(e) for e in errors]
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


def _invalid(error: FieldError) -> KubeFieldError:
    return KubeFieldError(error.field, "Invalid value", error.message.rstrip("."))


def _from_problem(problem: PlanProblem) -> KubeFieldError:
    path, _, detail = problem.message.partition(": ")
    return KubeFieldError(path, "Invalid value", detail.rstrip(".") if detail else problem.message)


def create_errors(obj: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]] = ()) -> list[KubeFieldError]:
    """Why a new Workspace (v1beta1 wire form) is refused; empty when it is admitted."""
    try:
        workspace = check_workspace(obj, known_presets=known_presets(), tunable_presets=tunable_presets())
    except InvalidObjectError as invalid:
        return [_invalid(error) for error in invalid.errors]
    if _sized_by_the_controller(workspace):
        return []
    try:
        byo = select_byo_nodes(workspace, nodes) if workspace.resource.is_bring_your_own else []
        resolve_plan(workspace, byo_nodes=byo)
    except PlanProblem as problem:
        if problem.reason not in _REFUSED_PLAN_REASONS:
            return []
        if problem.reason == "SizingRefused" and (not problem.permanent or _skips_fit_check(workspace)):
            return []
        return [_from_problem(problem)]
    return []


def _sized_by_the_controller(workspace: Workspace) -> bool:
    """What admission cannot size without I/O: a Hugging Face model id outside the catalog (its config.json
    is on the hub) or a Standard_N* size the catalog lacks (its GPUs are in the cloud's resource SKUs). The
    controller reads them and reports what does not fit on the Workspace, as KAITO does."""
    preset = workspace.inference.preset if workspace.inference else None
    if preset is not None and preset.name not in known_presets() and is_hugging_face_id(preset.name):
        return True
    instance_type = workspace.resource.instance_type
    if not instance_type or not is_unlisted_n_series(instance_type):
        return False
    try:
        get_gpu_config(instance_type)
    except UnknownSkuError:
        return True
    return False


def _skips_fit_check(workspace: Workspace) -> bool:
    annotations = workspace.metadata.annotations or {}
    if ANNOTATION_BYPASS_RESOURCE_CHECKS in annotations:
        return True
    return workspace.inference is not None and workspace.inference.config is not None


def _at(obj: Mapping[str, Any], *path: str) -> Any:
    node: Any = obj
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _selector_map(selector: Any) -> Any:
    """A label selector compared as KAITO does (LabelSelectorAsMap): matchLabels plus single-value `In`s."""
    if not isinstance(selector, Mapping):
        return selector
    labels = dict(selector.get("matchLabels") or {})
    others = []
    for requirement in selector.get("matchExpressions") or []:
        values = requirement.get("values") or []
        if requirement.get("operator") == "In" and len(values) == 1:
            labels[requirement.get("key")] = values[0]
        else:
            others.append(requirement)
    return {"labels": labels, "expressions": others}


def _immutable(path: str, old: Any, new: Any) -> KubeFieldError:
    return KubeFieldError(
        path,
        "Forbidden",
        f"field is immutable: {_show(old)} cannot become {_show(new)}; "
        "delete the Workspace and create it again to change it",
    )


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, Mapping | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return render_value(value)


def update_errors(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[KubeFieldError]:
    """KAITO's update rules: what may not change on a Workspace after it was created."""
    errors: list[KubeFieldError] = []
    for part in ("inference", "tuning"):
        if (old.get(part) is None) != (new.get(part) is None):
            errors.append(
                KubeFieldError(
                    part,
                    "Forbidden",
                    f"{part} cannot be added to or removed from an existing Workspace; "
                    "create a new Workspace instead",
                )
            )
    old_count, new_count = _at(old, "resource", "count"), _at(new, "resource", "count")
    if old_count is not None and new_count is not None and old_count != new_count:
        errors.append(_immutable("resource.count", old_count, new_count))
    for field in ("instanceType", "partition"):
        before, after = _at(old, "resource", field), _at(new, "resource", field)
        if before != after:
            errors.append(_immutable(f"resource.{field}", before, after))
    before, after = _at(old, "resource", "labelSelector"), _at(new, "resource", "labelSelector")
    if _selector_map(before) != _selector_map(after):
        errors.append(_immutable("resource.labelSelector", before, after))
    if old.get("inference") is not None and new.get("inference") is not None:
        before, after = _at(old, "inference", "preset"), _at(new, "inference", "preset")
        if before != after:
            errors.append(_immutable("inference.preset", before, after))
    if old.get("tuning") is not None and new.get("tuning") is not None:
        for path in (("preset",), ("method",), ("input", "name")):
            before, after = _at(old, "tuning", *path), _at(new, "tuning", *path)
            if before != after:
                errors.append(_immutable("tuning." + ".".join(path), before, after))
    return errors


def admission_response(uid: str, errors: Sequence[KubeFieldError]) -> dict[str, Any]:
    """The AdmissionReview (admission.k8s.io/v1) answering request `uid`."""
    response: dict[str, Any] = {"uid": uid, "allowed": not errors}
    if errors:
        response["status"] = {
            "status": "Failure",
            "code": 422,
            "reason": "Invalid",
            "message": render_errors(errors),
        }
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


def review_workspace(review: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Answer an AdmissionReview for a Workspace (objects in v1beta1); `nodes` are the cluster's Nodes."""
    request = review.get("request")
    if not isinstance(request, Mapping):
        raise ValueError("request: an AdmissionReview needs a request object; got none")
    uid = str(request.get("uid") or "")
    operation = request.get("operation")
    new = request.get("object")
    old = request.get("oldObject")
    if operation == "CREATE" and isinstance(new, Mapping):
        return admission_response(uid, create_errors(new, nodes))
    if operation == "UPDATE" and isinstance(new, Mapping) and isinstance(old, Mapping):
        return admission_response(uid, update_errors(old, new))
    return admission_response(uid, [])
