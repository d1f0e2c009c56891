"""What a Workspace needs, decided from its spec and what the cluster shows: preset, GPU shape, node count.

`resolve_plan(workspace, byo_nodes=..., config_text=...)` is pure. It returns a `WorkspacePlan` or raises
`PlanProblem`, whose `reason` (CamelCase) and `message` (a sentence naming the field, the value and what
would be accepted) become the Workspace's conditions. The order of checks is the order a user fixes things:
the preset, the instance type (or the bring-your-own nodes and their GPU labels), the inference ConfigMap,
then sizing. `select_byo_nodes` is the rule for bring-your-own nodes: Ready, schedulable Nodes matching the
label selector (`kaito.provisioners.byo.select_nodes`: preferredNodes first, then by name).

Invariants of a plan: `target_nodes >= 1`; a tuning plan has `sizing is None` and one node; an inference
plan with a preset has the `SizingPlan` sized with the user's max-model-len and gpu-memory-utilization
(`kaito.runtimes.sizing_inputs`), so the runtime never refuses the ConfigMap it was sized for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kaito.api import Workspace
from kaito.provisioners.byo import ByoNode, select_nodes
from kaito.runtimes import (
    GpuConfig,
    InferenceConfig,
    InferenceConfigError,
    NodeLabelError,
    NotEnoughNodesError,
    Preset,
    SizingPlan,
    SizingRefusal,
    UnknownPresetError,
    UnknownSkuError,
    apply_parallelism,
    get_gpu_config,
    get_preset,
    list_presets,
    parallelism_inputs,
    parse_inference_config,
    partition_gpu,
    plan_inference,
    retired_keys,
    sizing_inputs,
)

__all__ = [
    "CONFIG_KEY",
    "PlanProblem",
    "WorkspacePlan",
    "known_presets",
    "node_is_ready",
    "resolve_plan",
    "select_byo_nodes",
    "tunable_presets",
]

CONFIG_KEY = "inference_config.yaml"
"""The ConfigMap key holding the inference configuration (KAITO's)."""


class PlanProblem(Exception):
    """The Workspace cannot be planned as it stands; `permanent` when only a spec change can fix it."""

    def __init__(self, reason: str, message: str, *, permanent: bool = True) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class WorkspacePlan:
    """The decided shape of one Workspace's nodes and workload."""

    preset: Preset | None
    gpu: GpuConfig | None
    sizing: SizingPlan | None
    target_nodes: int
    inference_config: InferenceConfig = field(default_factory=InferenceConfig)

    def describe(self) -> str:
        """One sentence for an Event: nodes, instance type and, when sized, the layout."""
        where = self.gpu.name if self.gpu is not None else "the selected nodes"
        text = f"planned {self.target_nodes} node(s) of {where}"
        if self.sizing is not None:
            s = self.sizing
            text += (
                f": tensor parallel {s.tensor_parallel} x pipeline parallel {s.pipeline_parallel}"
                f" x data parallel {s.data_parallel}, max-model-len {s.max_model_len}, dtype {s.dtype}"
            )
            text += "".join(f". {note.rstrip('.')}" for note in s.notes)
        return text


def known_presets() -> list[str]:
    """Every preset name the operator can serve."""
    return [preset.name for preset in list_presets()]


def tunable_presets() -> list[str]:
    """Presets that can be fine-tuned (those that take LoRA adapters)."""
    return [preset.name for preset in list_presets() if preset.supports_lora]


def node_is_ready(node: Mapping[str, Any]) -> bool:
    """A Node whose Ready condition is True and which is not cordoned."""
    if (node.get("spec") or {}).get("unschedulable"):
        return False
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def select_byo_nodes(workspace: Workspace, nodes: Sequence[Mapping[str, Any]]) -> list[ByoNode]:
    """Ready, schedulable Nodes the Workspace selects (kaito.provisioners.byo): preferred ones first."""
    return [node for node in select_nodes(nodes, workspace) if node.ready and node.schedulable]


def _selector_text(workspace: Workspace) -> str:
    selector = workspace.resource.label_selector
    parts = [f"{k}={v}" for k, v in sorted((selector.match_labels or {}).items())]
    parts += [f"{r.key} {r.operator} {r.values or []}" for r in selector.match_expressions or []]
    return ", ".join(parts) or "(empty)"


def _preset(name: str, path: str, hub_preset: Preset | None = None) -> Preset:
    if hub_preset is not None and hub_preset.hf_repo.lower() == name.strip().lower():
        return hub_preset
    try:
        return get_preset(name)
    except UnknownPresetError as error:
        raise PlanProblem("UnknownPreset", f"{path}: {error}") from None


def _gpu(
    workspace: Workspace, byo_nodes: Sequence[ByoNode], instance_gpu: GpuConfig | None = None
) -> GpuConfig:
    instance_type = workspace.resource.instance_type
    if instance_type and instance_gpu is not None and instance_gpu.name.lower() == instance_type.lower():
        return instance_gpu
    if instance_type:
        try:
            return get_gpu_config(instance_type)
        except UnknownSkuError as error:
            raise PlanProblem("UnknownInstanceType", f"resource.instanceType: {error}") from None
    if not byo_nodes:
        raise PlanProblem(
            "NodesNotFound",
            f"resource.labelSelector: no Ready node carries {_selector_text(workspace)}"
            + (
                f" or is named in resource.preferredNodes ({', '.join(workspace.resource.preferred_nodes)})"
                if workspace.resource.preferred_nodes
                else ""
            )
            + "; label existing GPU nodes with it, or set resource.instanceType to provision nodes.",
            permanent=False,
        )
    first = byo_nodes[0]
    if first.gpu is None:
        raise PlanProblem("NodeLabelsMissing", f"resource.labelSelector: {first.problem}", permanent=False)
    partition = workspace.resource.partition
    if partition is None:
        return first.gpu
    try:
        return partition_gpu(first.gpu, mode=partition.mode, profile=partition.profile, count=partition.count)
    except NodeLabelError as error:
        raise PlanProblem("InvalidPartition", str(error).rstrip(".") + ".", permanent=False) from None


def _inference_config(text: str | None) -> InferenceConfig:
    try:
        return parse_inference_config(text)
    except InferenceConfigError as error:
        raise PlanProblem("InvalidInferenceConfig", f"inference.config: {error}") from None


def resolve_plan(
    workspace: Workspace,
    *,
    byo_nodes: Sequence[ByoNode] = (),
    config_text: str | None = None,
    hub_preset: Preset | None = None,
    instance_gpu: GpuConfig | None = None,
) -> WorkspacePlan:
    """Preset, GPU shape and node count for a validated Workspace; raises PlanProblem.

    hub_preset: the preset built from the hub's metadata when inference.preset.name is a Hugging Face id
    outside the catalog (the caller fetches it: kaito.controllers.model_hub). instance_gpu: the shape of
    an instance type the SKU catalog lacks, read from the cloud (kaito.runtimes.resource_skus).
    """
    resource = workspace.resource
    byo_limit = len(byo_nodes) if resource.is_bring_your_own else None
    if resource.partition is not None:
        byo_limit = 1  # one slice or one share of one node: a partitioned model is never split
    if workspace.tuning is not None:
        preset = _preset(workspace.tuning.preset.name, "tuning.preset.name")
        return WorkspacePlan(preset, _gpu(workspace, byo_nodes, instance_gpu), None, 1)
    inference = workspace.inference
    assert inference is not None, "validate() guarantees inference or tuning"
    config = _inference_config(config_text)
    if inference.preset is None:  # a pod template of the user's own: no sizing, the requested count
        if resource.is_bring_your_own and not byo_nodes:
            _gpu(workspace, byo_nodes)  # raises NodesNotFound
        return WorkspacePlan(None, None, None, resource.node_count, config)
    preset = _preset(inference.preset.name, "inference.preset.name", hub_preset)
    gpu = _gpu(workspace, byo_nodes, instance_gpu)
    try:
        max_model_len, utilization = sizing_inputs(config.vllm)
        parallelism = parallelism_inputs(config.vllm)
    except InferenceConfigError as error:
        raise PlanProblem("InvalidInferenceConfig", f"inference.config: {error}") from None
    try:
        sizing = plan_inference(
            preset,
            gpu,
            max_model_len=max_model_len,
            count=resource.count,
            max_nodes=byo_limit,
            gpu_memory_utilization=utilization,
        )
    except SizingRefusal as error:
        field_path = "resource.labelSelector" if resource.is_bring_your_own else "resource.instanceType"
        # Too few bring-your-own nodes is fixed by labelling more, not only by editing the Workspace.
        waits = resource.is_bring_your_own and isinstance(error, NotEnoughNodesError)
        raise PlanProblem("SizingRefused", f"{field_path}: {error}", permanent=not waits) from None
    sizing = apply_parallelism(preset, gpu, sizing, parallelism)
    retired = retired_keys("vllm", config.vllm)
    if retired:
        note = (
            f"{', '.join(f'vllm.{key}' for key in retired)} is accepted but left out: the vLLM of KAITO's "
            "base image no longer has it."
        )
        sizing = sizing.model_copy(update={"notes": (*sizing.notes, note)})
    if config.kv_cache_cpu_memory_utilization:
        note = (
            f"kv_cache_cpu_memory_utilization {config.kv_cache_cpu_memory_utilization:g} is accepted but has "
            "no effect: kaito's vLLM server keeps the KV cache in GPU memory "
            "(KAITO offloads it with LMCache)."
        )
        sizing = sizing.model_copy(update={"notes": (*sizing.notes, note)})
    return WorkspacePlan(preset, gpu, sizing, sizing.total_nodes, config)
