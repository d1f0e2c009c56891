"""The Kubernetes objects one inference Workspace runs as, and how to tell whether they are ready: pure.

`inference_objects(workspace, plan, nodes)` renders, in apply order, what the Workspace owns: the Services
and the Deployment or StatefulSet from `kaito.runtimes.build_workload` (or, for a pod template of the
user's own, a Deployment of that template). Every object gets the Workspace as its controller
ownerReference (so the garbage collector removes it with the Workspace) and the annotation
`kaito.sh/applied-hash`, a digest of everything else in it. The reconciler applies an object only when
the cached copy's hash differs: a reconcile with nothing new to say writes nothing, and anything that
changes the rendering (nodes, adapters, the ConfigMap, the preset) changes the hash, so the workload rolls.

A Workspace that names no `inference.config` mounts its namespace's `inference-params-template` ConfigMap,
as KAITO does: `default_config(namespace)` is made once per namespace (created when absent, never owned by
one Workspace, left alone once it exists, not read for sizing: overrides go in `inference.config`), so a
hundred Workspaces in a namespace do not write a hundred copies of the same defaults.

`trim_workload(obj)` is the informer transform of the owned Deployments and StatefulSets: the reconciler
reads their metadata (the applied hash, owners), `spec.replicas` and the replica counts of `status`, never
the pod template (most of the bytes of each cached copy) or the conditions. Of a Service it reads only the
metadata (`metadata_only`).

`workload_readiness(obj, desired)` reads a Deployment or StatefulSet: ready when the controller has
observed the current generation, every replica is updated and ready, and the object is the one we last
rendered (a cached copy older than our apply is never taken as ready).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kaito.api import (
    ANNOTATION_ENABLE_LB,
    ANNOTATION_RUNTIME,
    API_VERSION,
    KIND_WORKSPACE,
    Workspace,
    controller_reference,
)
from kaito.controllers.workspace_plan import CONFIG_KEY, WorkspacePlan
from kaito.runtimes import (
    GPU_TOLERATIONS,
    MODEL_PORT,
    Adapter,
    RuntimeName,
    RuntimesError,
    UnsupportedRequestError,
    WorkloadRequest,
    build_workload,
    gpu_resource,
    node_affinity,
    render_deployment,
    render_service,
    selector_labels,
)

__all__ = [
    "APPLIED_HASH",
    "DEFAULT_CONFIG_NAME",
    "DEFAULT_INFERENCE_CONFIG",
    "Readiness",
    "WorkloadProblem",
    "applied_hash",
    "default_config",
    "default_config_name",
    "inference_objects",
    "metadata_only",
    "owned",
    "requested_runtime",
    "trim_workload",
    "workload_readiness",
    "workload_request",
]

APPLIED_HASH = "kaito.sh/applied-hash"
DEFAULT_CONFIG_NAME = "inference-params-template"  # KAITO's name for its namespace's default config

DEFAULT_INFERENCE_CONFIG = """\
# Inference defaults of this namespace's Workspaces that name no inference.config (kaito-py). kaito sizes
# max-model-len and gpu-memory-utilization from the model and the GPUs; use inference.config to override
# them, with any other vLLM flag by name:
#   vllm:
#     max-model-len: 8192
#     enable-prefix-caching: true
vllm: {}
"""


class WorkloadProblem(Exception):
    """The workload cannot be rendered; the message names the field to change."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Readiness:
    """Whether a workload serves, and a sentence saying how far it got."""

    ready: bool
    message: str


def default_config_name(workspace: Workspace) -> str:
    """The ConfigMap a Workspace that names none mounts: its namespace's shared default."""
    return DEFAULT_CONFIG_NAME


def _adapters(workspace: Workspace) -> tuple[Adapter, ...]:
    adapters = []
    for index, spec in enumerate((workspace.inference.adapters if workspace.inference else None) or []):
        path = f"inference.adapters[{index}]"
        volume = spec.source.volume_source
        try:
            adapters.append(
                Adapter(
                    name=spec.source.name or "",
                    image=spec.source.image or None,
                    volume_source=dict(volume) if volume is not None else None,
                    strength=float(spec.strength) if spec.strength is not None else 1.0,
                )
            )
        except ValueError as error:
            raise WorkloadProblem("UnsupportedAdapter", f"{path}: {error}") from None
    return tuple(adapters)


_RUNTIMES: tuple[RuntimeName, ...] = ("vllm", "transformers")


def requested_runtime(workspace: Workspace) -> RuntimeName | None:
    """The runtime the `kaito.sh/runtime` annotation asks for (None: the preset's own)."""
    value = (workspace.metadata.annotations or {}).get(ANNOTATION_RUNTIME)
    if value is None or value == "":
        return None
    for name in _RUNTIMES:
        if value == name:
            return name
    raise WorkloadProblem(
        "InvalidRuntime",
        f"metadata.annotations[{ANNOTATION_RUNTIME}] is {value!r}; use one of {', '.join(_RUNTIMES)} "
        "(or remove it to serve with the preset's runtime).",
    )


def workload_request(workspace: Workspace, plan: WorkspacePlan, nodes: list[str]) -> WorkloadRequest:
    """What the runtime needs to know about the Workspace (runtimes never read kaito.api types)."""
    preset = workspace.inference.preset if workspace.inference else None
    options = preset.preset_options if preset else None
    config = workspace.inference.config if workspace.inference else None
    partition = workspace.resource.partition
    try:
        return WorkloadRequest(
            runtime=requested_runtime(workspace),
            config_map=config or default_config_name(workspace),
            workspace=workspace.metadata.name or "",
            namespace=workspace.metadata.namespace or "default",
            node_names=tuple(sorted(nodes)),
            adapters=_adapters(workspace),
            vllm_config=dict(plan.inference_config.vllm),
            transformers_config=dict(plan.inference_config.transformers),
            image=options.image if options else None,
            image_pull_secrets=tuple(options.image_pull_secrets or ()) if options else (),
            model_access_secret=options.model_access_secret if options else None,
            service_type=(
                "LoadBalancer"
                if (workspace.metadata.annotations or {}).get(ANNOTATION_ENABLE_LB) == "True"
                else "ClusterIP"
            ),
            gpu_resource=gpu_resource(
                partition.mode if partition else None, partition.profile if partition else None
            ),
        )
    except ValueError as error:
        raise WorkloadProblem("InvalidWorkload", str(error)) from None


def applied_hash(obj: Mapping[str, Any]) -> str:
    """Digest of an object as rendered, ignoring the hash annotation itself."""
    data = json.loads(json.dumps(obj))
    meta = data.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    annotations.pop(APPLIED_HASH, None)
    if not annotations:
        meta.pop("annotations", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def owned(workspace: Workspace, obj: Mapping[str, Any]) -> dict[str, Any]:
    """`obj` with the Workspace as controller owner and the applied-hash annotation."""
    result = json.loads(json.dumps(obj))
    meta = result.setdefault("metadata", {})
    meta["namespace"] = workspace.metadata.namespace or "default"
    meta["ownerReferences"] = [
        controller_reference(API_VERSION, KIND_WORKSPACE, workspace.metadata).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
    ]
    meta.setdefault("annotations", {})[APPLIED_HASH] = applied_hash(result)
    return dict(result)


def default_config(namespace: str) -> dict[str, Any]:
    """The namespace's default inference ConfigMap, created once when absent (not owned by a Workspace)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": DEFAULT_CONFIG_NAME,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "kaito"},
        },
        "data": {CONFIG_KEY: DEFAULT_INFERENCE_CONFIG},
    }


def _template_objects(workspace: Workspace, request: WorkloadRequest, replicas: int) -> list[dict[str, Any]]:
    """A Deployment of the user's own pod template, pinned to the nodes and tolerating the GPU taint."""
    assert workspace.inference is not None and workspace.inference.template is not None
    template = json.loads(json.dumps(workspace.inference.template))
    meta = template.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), **selector_labels(request)}
    spec = template.setdefault("spec", {})
    spec["tolerations"] = [*(spec.get("tolerations") or []), *(dict(t) for t in GPU_TOLERATIONS)]
    affinity = node_affinity(request.node_names)
    if affinity is not None:
        spec["affinity"] = {**(spec.get("affinity") or {}), **affinity}
    return [render_service(request, leader_only=False), render_deployment(request, template, replicas)]


def inference_objects(workspace: Workspace, plan: WorkspacePlan, nodes: list[str]) -> list[dict[str, Any]]:
    """Every object of the inference workload, owned and hashed, in apply order."""
    request = workload_request(workspace, plan, nodes)
    objects: list[dict[str, Any]] = []
    assert workspace.inference is not None
    if plan.preset is None or plan.gpu is None or plan.sizing is None:
        objects += _template_objects(workspace, request, plan.target_nodes)
    else:
        try:
            workload = build_workload(request, plan.preset, plan.gpu, plan.sizing)
        except UnsupportedRequestError as error:
            raise WorkloadProblem("UnsupportedRequest", f"inference: {error}") from None
        except RuntimesError as error:
            raise WorkloadProblem("InvalidInferenceConfig", f"inference.config: {error}") from None
        objects += workload.objects()
    return [owned(workspace, obj) for obj in objects]


_WORKLOAD_STATUS_READ = ("observedGeneration", "replicas", "readyReplicas", "updatedReplicas")


def trim_workload(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """What the cache keeps of a Deployment or StatefulSet: what `workload_readiness` and the prune read."""
    trimmed = {key: obj[key] for key in ("apiVersion", "kind", "metadata") if key in obj}
    spec, status = obj.get("spec"), obj.get("status")
    if isinstance(spec, Mapping) and "replicas" in spec:
        trimmed["spec"] = {"replicas": spec["replicas"]}
    if isinstance(status, Mapping):
        trimmed["status"] = {key: status[key] for key in _WORKLOAD_STATUS_READ if key in status}
    return trimmed


def metadata_only(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """`obj` reduced to apiVersion, kind and metadata (what the cache keeps of an owned Service)."""
    return {key: obj[key] for key in ("apiVersion", "kind", "metadata") if key in obj}


def workload_readiness(obj: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> Readiness:
    """Whether a Deployment/StatefulSet we rendered (`desired`) is fully rolled out and ready (`obj`: the
    cached copy, None when the cache has none yet).

    While a new workload comes up the sentence only moves with the number of ready pods (not with the
    controller's bookkeeping on the way), so the Workspace's status is not rewritten for each step.
    """
    meta = desired.get("metadata") or {}
    kind, name = desired.get("kind", "workload"), meta.get("name", "")
    desired_hash = (meta.get("annotations") or {}).get(APPLIED_HASH)
    wanted = int((desired.get("spec") or {}).get("replicas", 1))
    waiting = Readiness(False, f"{kind} {name}: 0 of {wanted} pod(s) ready")
    if obj is None:
        return waiting
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if annotations.get(APPLIED_HASH) != desired_hash:
        return Readiness(False, f"{kind} {name} is being updated")
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    generation = int((obj.get("metadata") or {}).get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    ready = int(status.get("readyReplicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    if observed < generation:
        if generation <= 1:
            return waiting  # just created: its controller has not looked yet
        return Readiness(False, f"{kind} {name}: waiting for its controller to see the new spec")
    if ready >= wanted and updated >= wanted and int(status.get("replicas") or 0) <= wanted:
        return Readiness(True, f"{kind} {name}: {ready} of {wanted} pod(s) ready on port {MODEL_PORT}")
    if int(status.get("replicas") or 0) > wanted:
        return Readiness(
            False, f"{kind} {name}: rolling out, {updated} of {wanted} pod(s) updated, {ready} ready"
        )
    return Readiness(False, f"{kind} {name}: {ready} of {wanted} pod(s) ready")
