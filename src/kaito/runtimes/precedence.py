"""The user's parallelism against the plan, with KAITO's precedence: a feasible user value wins, said aloud.

KAITO appends the `vllm:` map of `inference_config.yaml` after its own flags, so a user's
`tensor-parallel-size` (or pipeline/data-parallel size) replaces the operator's. kaito-py keeps that
precedence where the hardware can run the user's layout, and otherwise keeps the plan's value, since vLLM
would refuse to start. Either way the outcome is a note naming the key, which the Workspace shows in its
Planned event — a contradicting value is never dropped silently.

A user layout (TP, PP, DP; each the plan's unless set) is feasible when:
* TP divides the attention heads and the KV heads shard or replicate evenly (vLLM's check);
* TP fits in one node (tensor parallelism stays on NVLink/PCIe, never across nodes);
* TP x PP x DP equals the GPUs of one model instance (node GPUs x the plan's nodes) — vLLM needs each
  GPU it is given, and a smaller product would leave GPUs the plan paid for idle;
* data parallelism stays on one node, and PP is at most the number of layers;
* the busiest GPU still holds its weights, the plan's max-model-len and the headroom.
"""

from __future__ import annotations

from collections.abc import Mapping

from kaito.runtimes.presets import Preset
from kaito.runtimes.sizing import (
    SizingPlan,
    memory_breakdown,
    min_headroom_gib,
    tensor_parallel_valid,
)
from kaito.runtimes.skus import GpuConfig

__all__ = ["PARALLEL_FLAGS", "apply_parallelism"]

PARALLEL_FLAGS = ("tensor-parallel-size", "pipeline-parallel-size", "data-parallel-size")


def _infeasible(preset: Preset, gpu: GpuConfig, plan: SizingPlan, tp: int, pp: int, dp: int) -> str | None:
    """Why vLLM could not run TP x PP x DP on the plan's nodes, or None when it can."""
    if min(tp, pp, dp) < 1:
        return "parallel sizes must be at least 1"
    if not tensor_parallel_valid(preset, tp):
        return (
            f"tensor parallel {tp} does not divide {preset.name}'s {preset.attention_heads} attention heads "
            f"and {preset.kv_heads} KV heads evenly"
        )
    if tp > plan.gpus_per_node:
        return f"tensor parallel {tp} exceeds the {plan.gpus_per_node} GPU(s) per node of {gpu.name}"
    gpus = plan.gpus_per_node * plan.nodes
    if tp * pp * dp != gpus:
        return f"TP {tp} x PP {pp} x DP {dp} = {tp * pp * dp} GPUs, but one instance runs on {gpus}"
    if dp > 1 and plan.nodes > 1:
        return "data parallelism cannot span nodes"
    if pp > preset.layers:
        return f"pipeline parallel {pp} exceeds {preset.name}'s {preset.layers} layers"
    usable = gpu.memory_gib * plan.gpu_memory_utilization
    memory = memory_breakdown(
        preset, gpu, tensor_parallel=tp, pipeline_parallel=pp, tokens=plan.max_model_len, usable=usable
    )
    if memory.headroom_gib < min_headroom_gib(gpu):
        need = memory.weights_gib + memory.kv_cache_gib + memory.overhead_gib + min_headroom_gib(gpu)
        return f"the busiest GPU would need {need:.1f} GiB of its {usable:.1f} usable"
    return None


def apply_parallelism(
    preset: Preset, gpu: GpuConfig, plan: SizingPlan, requested: Mapping[str, tuple[str, int]]
) -> SizingPlan:
    """`plan` with the user's parallel sizes where feasible; every difference is noted by key.

    requested: flag (one of PARALLEL_FLAGS) -> (the user's key as written, value).
    """
    current = {
        "tensor-parallel-size": plan.tensor_parallel,
        "pipeline-parallel-size": plan.pipeline_parallel,
        "data-parallel-size": plan.data_parallel,
    }
    wanted = dict(current)
    for flag, (_, value) in requested.items():
        wanted[flag] = value
    if wanted == current:
        return plan
    tp, pp, dp = (wanted[flag] for flag in PARALLEL_FLAGS)
    changed = [flag for flag in PARALLEL_FLAGS if wanted[flag] != current[flag]]
    keys = ", ".join(f"vllm.{requested[flag][0]} is {wanted[flag]}" for flag in changed)
    plans = ", ".join(f"{current[flag]}" for flag in changed)
    reason = _infeasible(preset, gpu, plan, tp, pp, dp)
    if reason is not None:
        note = (
            f"{keys}, but {reason}; kaito keeps the plan's {plans} so that vLLM can start "
            f"(use a value that fits {plan.nodes} node(s) of {gpu.name}, or remove the key)."
        )
        return plan.model_copy(update={"notes": (*plan.notes, note)})
    note = f"{keys}: it replaces the plan's {plans} (the inference config wins, as in KAITO)."
    usable = gpu.memory_gib * plan.gpu_memory_utilization
    memory = memory_breakdown(
        preset, gpu, tensor_parallel=tp, pipeline_parallel=pp, tokens=plan.max_model_len, usable=usable
    )
    return plan.model_copy(
        update={
            "tensor_parallel": tp,
            "pipeline_parallel": pp,
            "data_parallel": dp,
            "memory": memory,
            "notes": (*plan.notes, note),
        }
    )
