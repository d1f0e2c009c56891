"""Sizing: how many nodes, how the model is split, and how much context fits.

`plan_inference(preset, gpu, ...)` returns a `SizingPlan` or raises a `SizingRefusal`. The invariant every
plan satisfies, checked per GPU (the property tests assert it over every preset x SKU):

    weights share + KV cache for one max_model_len sequence + overhead + min headroom
        <=  utilization x GPU memory

where, for tensor-parallel size TP and pipeline-parallel size PP,

* weights share = weights x 1.02 x ceil(layers / PP) / layers / TP   (the largest pipeline stage)
* KV share      = max_model_len x KV bytes per token x ceil(layers / PP) / layers x heads_per_rank / kv_heads
                  with heads_per_rank = max(1, kv_heads / TP) (KV heads are replicated once TP > kv_heads;
                  an MLA latent is replicated on every TP rank)
* overhead      = 2.3 GiB (CUDA context, activations, CUDA graphs), KAITO's constant
* utilization   = 0.84, or 0.82 on A10/A10G — the same figure passed to vLLM as --gpu-memory-utilization.
* min headroom  = 5% of the GPU's memory (HEADROOM_SHARE), kept free for the KV cache of further concurrent
                  sequences: 4.7 GiB on an H100 NVL (94 GiB), 4 GiB on an A100 80GB, 1.2 GiB on an A10.

Why the headroom rule: granting the largest context that fits one sequence leaves vLLM a KV pool of exactly
one max-length sequence, so a second request queues. Before the rule, llama-3.3-70b-instruct on
Standard_NC80adis_H100_v5 (TP 2) planned 62,976 tokens with 0.03 GiB to spare; with it the plan grants
32,256 tokens and keeps 4.73 GiB per GPU (about 30,000 more tokens of other sequences). A model whose
weights leave less than headroom + 2048 tokens on a layout moves to the next layout (more GPUs or nodes),
exactly as one that does not fit at all; a user's explicit max-model-len is sized the same way.

Layouts tried, fewest nodes first: on one node, data-parallel over all GPUs when the weights are under half
a GPU (KAITO's rule) and a replica fits; else TP over the node's GPUs (the largest count that divides the
attention heads, the rest as data-parallel replicas if one fits or else as pipeline stages); on n > 1 nodes,
TP within a node and PP = n across nodes (Ray). dtype is bfloat16 on compute capability >= 8.0, else
float16, restricted to what the preset allows. max-model-len is the user's (capped at the context limit),
otherwise the largest multiple of 256 that fits, capped at the context limit; the node count is chosen
for the user's length or 2048 tokens.

How this differs from KAITO's estimator (`kaito_estimate` reproduces KAITO so tests can show each case):

1. KAITO divides the KV term by the GPUs per node, not by the GPUs that hold the model; on one-GPU nodes
   a multi-node model's KV is counted whole on every GPU (llama-3.3-70b on NV36ads_A10_v5 with
   max-model-len 16384: KAITO 11 nodes, ours 9).
2. KAITO adds a GPU even on an exact fit (`int(model / room) + 1`); we take the smallest count that fits
   with the headroom kept.
3. KAITO also inflates weights by 1.05 on top of 1.02; our check is exact per GPU with the 2.3 GiB overhead
   already counted, so we keep only the 1.02.
4. KAITO sizes at 0.84 utilization but runs A10s at 0.82, so its context on an A10 overshoots what vLLM
   will find (llama-3.1-8b on NV36ads_A10_v5: KAITO 21,248 tokens, only 17,152 fit at 0.82; with the
   1.2 GiB headroom we grant 7,424).
5. KAITO's max-model-len formula multiplies per-GPU KV by the node count instead of dividing by the
   pipeline stages (llama-3.3-70b on NC48ads_A100_v4: 102,656 tokens, ours 131,072, the context limit).
6. KAITO sets TP = GPUs per node even when that does not divide the attention heads (vLLM then refuses
   to start); we pick a TP vLLM accepts. We also size the largest pipeline stage when layers do not divide.
7. KAITO keeps no headroom: it grants the largest context one sequence fits. We keep HEADROOM_SHARE of
   every GPU for concurrent sequences (see above), which may cost a node (llama-3.3-70b on NV36ads_A10_v5:
   8 A10s would leave 0.62 GiB of KV room per GPU, under the 1.2 GiB floor, so the plan takes 9).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kaito.runtimes.errors import (
    CannotSplitError,
    GpuTooSmallError,
    NotEnoughNodesError,
    UnsupportedDtypeError,
)
from kaito.runtimes.presets import Dtype, Preset
from kaito.runtimes.skus import GpuConfig, list_gpu_configs

__all__ = [
    "DEFAULT_SIZING_TOKENS",
    "GIB",
    "HEADROOM_SHARE",
    "OVERHEAD_GIB",
    "WEIGHT_FACTOR",
    "KaitoEstimate",
    "MemoryBreakdown",
    "SizingPlan",
    "choose_dtype",
    "default_gpu_memory_utilization",
    "kaito_estimate",
    "memory_breakdown",
    "min_headroom_gib",
    "plan_inference",
    "plan_nodes",
    "smallest_single_node_sku",
    "tensor_parallel_valid",
]

GIB = 1024**3
WEIGHT_FACTOR = 1.02
OVERHEAD_GIB = 2.3
DEFAULT_SIZING_TOKENS = 2048
MAX_MODEL_LEN_STEP = 256
HEADROOM_SHARE = 0.05
_UTILIZATION = 0.84
_UTILIZATION_A10 = 0.82
_KAITO_MARGIN = 1.05
_DP_WEIGHT_FRACTION = 0.5


class MemoryBreakdown(BaseModel):
    """GiB on the busiest GPU: weights + kv_cache + overhead + headroom = usable = total - reserved."""

    model_config = ConfigDict(frozen=True)

    gpu_memory_gib: float
    usable_gib: float = Field(description="utilization x GPU memory: what vLLM may take")
    weights_gib: float
    kv_cache_gib: float = Field(description="KV cache for one sequence of max_model_len tokens")
    overhead_gib: float
    headroom_gib: float = Field(description="left for more concurrent sequences' KV cache")
    min_headroom_gib: float = Field(
        default=0.0, description="the headroom every plan keeps at least: HEADROOM_SHARE x GPU memory"
    )
    reserved_gib: float = Field(description="kept outside vLLM: (1 - utilization) x GPU memory")


class SizingPlan(BaseModel):
    """How one workspace's model is laid out on nodes of one instance type."""

    model_config = ConfigDict(frozen=True)

    preset: str
    instance_type: str
    nodes: int = Field(description="nodes one model instance spans")
    replicas: int = Field(description="independent model instances (single-node plans only)")
    gpus_per_node: int
    tensor_parallel: int
    pipeline_parallel: int
    data_parallel: int
    gpu_memory_utilization: float
    max_model_len: int
    dtype: Dtype
    memory: MemoryBreakdown
    notes: tuple[str, ...] = ()

    @property
    def multi_node(self) -> bool:
        """One model instance spans several nodes (StatefulSet + Ray)."""
        return self.nodes > 1

    @property
    def total_nodes(self) -> int:
        """Nodes to provision for the workspace."""
        return self.nodes * self.replicas


class KaitoEstimate(BaseModel):
    """What KAITO's estimator (HEAD nodes, v0.8 max-model-len) decides, for comparison."""

    model_config = ConfigDict(frozen=True)

    nodes: int
    min_gpus: int
    tensor_parallel: int
    pipeline_parallel: int
    data_parallel: int
    gpu_memory_utilization: float
    max_model_len: int
    dtype: Dtype


class _Layout(BaseModel):
    model_config = ConfigDict(frozen=True)

    nodes: int
    tp: int
    pp: int
    dp: int


def default_gpu_memory_utilization(gpu: GpuConfig) -> float:
    """0.84, or 0.82 on A10/A10G (KAITO's figures)."""
    return _UTILIZATION_A10 if gpu.is_a10_family else _UTILIZATION


def choose_dtype(preset: Preset, gpu: GpuConfig) -> Dtype:
    """bfloat16 where the GPU has it (compute capability >= 8.0), else float16; within the preset's list."""
    usable: list[Dtype] = [d for d in preset.dtypes if d != "bfloat16" or gpu.supports_bf16]
    if not usable:
        allowed = " or ".join(preset.dtypes)
        raise UnsupportedDtypeError(
            f"{preset.name} can only be served in {allowed}, which {gpu.name} ({gpu.gpu_model}, compute "
            f"capability {gpu.compute_capability_str}) does not support; use a GPU with compute capability "
            "8.0 or newer (A10, A100, L4, H100)."
        )
    return usable[0]


def _tp_valid(preset: Preset, tp: int) -> bool:
    # vLLM shards attention heads across TP ranks; KV heads either shard or replicate evenly.
    heads_ok = preset.attention_heads % tp == 0
    kv_ok = preset.kv_heads % tp == 0 or tp % preset.kv_heads == 0
    return heads_ok and kv_ok


def _layer_share(preset: Preset, pp: int) -> float:
    return math.ceil(preset.layers / pp) / preset.layers


def _kv_fraction(preset: Preset, tp: int, pp: int) -> float:
    layer_share = _layer_share(preset, pp)
    if preset.is_mla:
        return layer_share
    heads_per_rank = max(1.0, preset.kv_heads / tp)
    return layer_share * heads_per_rank / preset.kv_heads


def _weights_share(preset: Preset, tp: int, pp: int) -> float:
    return preset.weights_gib * WEIGHT_FACTOR * _layer_share(preset, pp) / tp


def _kv_gib(preset: Preset, tp: int, pp: int, tokens: int) -> float:
    return tokens * preset.kv_bytes_per_token * _kv_fraction(preset, tp, pp) / GIB


def _fits(preset: Preset, layout: _Layout, usable: float, tokens: int) -> bool:
    need = _weights_share(preset, layout.tp, layout.pp) + _kv_gib(preset, layout.tp, layout.pp, tokens)
    return need + OVERHEAD_GIB <= usable


def _max_tokens(preset: Preset, layout: _Layout, usable: float) -> int:
    room = usable - _weights_share(preset, layout.tp, layout.pp) - OVERHEAD_GIB
    per_token = preset.kv_bytes_per_token * _kv_fraction(preset, layout.tp, layout.pp)
    return int(room * GIB // per_token)


def _layouts(preset: Preset, gpu: GpuConfig, nodes: int) -> Iterator[_Layout]:
    g = gpu.gpu_count
    tp = max(t for t in range(1, g + 1) if g % t == 0 and _tp_valid(preset, t))
    rest = g // tp
    if nodes == 1:
        if g > 1 and preset.weights_gib < _DP_WEIGHT_FRACTION * gpu.memory_gib:
            yield _Layout(nodes=1, tp=1, pp=1, dp=g)
        if rest > 1:
            yield _Layout(nodes=1, tp=tp, pp=1, dp=rest)
        if rest <= preset.layers:
            yield _Layout(nodes=1, tp=tp, pp=rest, dp=1)
        return
    pp = nodes * rest
    if pp <= preset.layers:
        yield _Layout(nodes=nodes, tp=tp, pp=pp, dp=1)


def min_headroom_gib(gpu: GpuConfig) -> float:
    """GiB per GPU every plan leaves for further sequences' KV cache: HEADROOM_SHARE x GPU memory."""
    return HEADROOM_SHARE * gpu.memory_gib


def _search(preset: Preset, gpu: GpuConfig, usable: float, tokens: int, max_nodes: int) -> _Layout | None:
    budget = usable - min_headroom_gib(gpu)
    for nodes in range(1, max_nodes + 1):
        for layout in _layouts(preset, gpu, nodes):
            if _fits(preset, layout, budget, tokens):
                return layout
    return None


def _node_limit(preset: Preset) -> int:
    # Pipeline stages cannot outnumber layers: the deepest split puts one layer on each stage.
    return preset.layers


def _needed_gib(preset: Preset, tokens: int) -> float:
    return preset.weights_gib * WEIGHT_FACTOR + tokens * preset.kv_bytes_per_token / GIB + OVERHEAD_GIB


def smallest_single_node_sku(
    preset: Preset, max_model_len: int | None = None, cloud: str | None = None
) -> GpuConfig | None:
    """The catalog instance type with the least GPU memory per node that serves `preset` on one node."""
    candidates = [c for c in list_gpu_configs() if cloud is None or c.cloud == cloud]
    candidates.sort(key=lambda c: (c.node_memory_gib, c.gpu_count, c.name))
    for candidate in candidates:
        if not any(d != "bfloat16" or candidate.supports_bf16 for d in preset.dtypes):
            continue
        tokens = _target_tokens(preset, max_model_len)
        usable = candidate.memory_gib * default_gpu_memory_utilization(candidate)
        if _search(preset, candidate, usable, tokens, max_nodes=1) is not None:
            return candidate
    return None


def _target_tokens(preset: Preset, max_model_len: int | None) -> int:
    if max_model_len is None:
        return min(DEFAULT_SIZING_TOKENS, preset.context_limit)
    return min(max_model_len, preset.context_limit)


def _suggestion(preset: Preset, gpu: GpuConfig, max_model_len: int | None) -> str | None:
    same_cloud = gpu.cloud if gpu.cloud != "byo" else None
    best = smallest_single_node_sku(preset, max_model_len, same_cloud) or smallest_single_node_sku(
        preset, max_model_len
    )
    return best.name if best is not None else None


def _gib(value: float) -> str:
    return f"{math.ceil(value)}"


def _shortfall(preset: Preset, gpu: GpuConfig, needed: float) -> str:
    """The opening of the errors of a model that outgrows one node."""
    return (
        f"{preset.name} needs ≥ {_gib(needed)} GiB of GPU memory; {gpu.name} has "
        f"{gpu.node_memory_gib:g} GiB per node"
    )


def plan_inference(
    preset: Preset,
    gpu: GpuConfig,
    *,
    max_model_len: int | None = None,
    count: int | None = None,
    max_nodes: int | None = None,
    gpu_memory_utilization: float | None = None,
) -> SizingPlan:
    """Size `preset` on nodes shaped like `gpu`.

    max_model_len: the user's override (capped at the context limit); None sizes for 2048 tokens and then
    grants the largest multiple of 256 that fits. count: the workspace's requested node count; a single-node
    plan runs that many replicas, a multi-node plan needs exactly its own node count. max_nodes: refuse when
    one model instance would need more nodes (e.g. only that many bring-your-own nodes exist).
    gpu_memory_utilization: the user's override of the 0.84/0.82 default.
    """
    if max_model_len is not None and max_model_len < 1:
        raise ValueError(f"max_model_len is {max_model_len}; expected a positive number of tokens.")
    dtype = choose_dtype(preset, gpu)
    utilization = (
        gpu_memory_utilization if gpu_memory_utilization is not None else default_gpu_memory_utilization(gpu)
    )
    usable = gpu.memory_gib * utilization
    tokens = _target_tokens(preset, max_model_len)
    notes: list[str] = []
    if max_model_len is not None and max_model_len > preset.context_limit:
        notes.append(
            f"max-model-len {max_model_len} capped at {preset.name}'s context limit {preset.context_limit}."
        )

    layout = _search(preset, gpu, usable, tokens, _node_limit(preset))
    needed = _needed_gib(preset, tokens)
    if layout is None:
        one_layer = preset.weights_gib * WEIGHT_FACTOR / preset.layers / gpu.gpu_count
        suggestion = _suggestion(preset, gpu, max_model_len)
        raise GpuTooSmallError(
            f"{preset.name} cannot fit {gpu.name}'s GPUs: {usable:.2f} GiB usable per GPU "
            f"({utilization:g} x {gpu.memory_gib:g} GiB) cannot hold even one layer's share "
            f"({one_layer:.2f} GiB) plus {OVERHEAD_GIB} GiB overhead, the KV cache for {tokens} tokens and "
            f"{min_headroom_gib(gpu):.2f} GiB headroom for concurrent sequences; "
            f"use {suggestion or 'a GPU with more memory'}.",
            needed_gib=needed,
            suggestion=suggestion,
        )
    if layout.nodes > 1 and not preset.distributed:
        suggestion = _suggestion(preset, gpu, max_model_len)
        where = f"use {suggestion}" if suggestion else "no single instance type in the catalog holds it"
        raise CannotSplitError(
            f"{_shortfall(preset, gpu, needed)} and {preset.name} cannot be split across nodes; {where}.",
            needed_gib=needed,
            min_nodes=layout.nodes,
            suggestion=suggestion,
        )
    if max_nodes is not None and layout.nodes > max_nodes:
        suggestion = _suggestion(preset, gpu, max_model_len)
        alternative = f" or {suggestion}" if suggestion else ""
        raise NotEnoughNodesError(
            f"{_shortfall(preset, gpu, needed)}; use ≥ {layout.nodes} nodes{alternative}.",
            needed_gib=needed,
            min_nodes=layout.nodes,
            suggestion=suggestion,
        )

    if max_model_len is not None:
        granted = tokens
    else:
        fitting = _max_tokens(preset, layout, usable - min_headroom_gib(gpu))
        # The context limit itself when it fits, else the largest multiple of 256 that does.
        granted = (
            preset.context_limit
            if fitting >= preset.context_limit
            else fitting - fitting % MAX_MODEL_LEN_STEP
        )

    replicas = 1
    if layout.nodes == 1:
        replicas = max(1, count or 1)
    elif count is not None and count != layout.nodes:
        notes.append(
            f"count {count} replaced by {layout.nodes}: one {preset.name} instance spans "
            f"{layout.nodes} nodes of {gpu.name}."
        )

    memory = memory_breakdown(
        preset, gpu, tensor_parallel=layout.tp, pipeline_parallel=layout.pp, tokens=granted, usable=usable
    )
    return SizingPlan(
        preset=preset.name,
        instance_type=gpu.name,
        nodes=layout.nodes,
        replicas=replicas,
        gpus_per_node=gpu.gpu_count,
        tensor_parallel=layout.tp,
        pipeline_parallel=layout.pp,
        data_parallel=layout.dp,
        gpu_memory_utilization=utilization,
        max_model_len=granted,
        dtype=dtype,
        memory=memory,
        notes=tuple(notes),
    )


def memory_breakdown(
    preset: Preset,
    gpu: GpuConfig,
    *,
    tensor_parallel: int,
    pipeline_parallel: int,
    tokens: int,
    usable: float,
) -> MemoryBreakdown:
    """The busiest GPU's memory for a TP x PP split serving `tokens` of context, `usable` GiB per GPU."""
    weights = _weights_share(preset, tensor_parallel, pipeline_parallel)
    kv = _kv_gib(preset, tensor_parallel, pipeline_parallel, tokens)
    return MemoryBreakdown(
        gpu_memory_gib=gpu.memory_gib,
        usable_gib=round(usable, 4),
        weights_gib=round(weights, 4),
        kv_cache_gib=round(kv, 4),
        overhead_gib=OVERHEAD_GIB,
        headroom_gib=round(usable - weights - kv - OVERHEAD_GIB, 4),
        min_headroom_gib=round(min_headroom_gib(gpu), 4),
        reserved_gib=round(gpu.memory_gib - usable, 4),
    )


def tensor_parallel_valid(preset: Preset, tensor_parallel: int) -> bool:
    """vLLM accepts this TP: it divides the attention heads, and the KV heads shard or replicate evenly."""
    return _tp_valid(preset, tensor_parallel)


def plan_nodes(preset: Preset, gpu: GpuConfig, *, max_model_len: int | None = None) -> int:
    """Nodes one instance of `preset` needs on `gpu` (the node count a provisioner should create)."""
    return plan_inference(preset, gpu, max_model_len=max_model_len).nodes


def kaito_estimate(preset: Preset, gpu: GpuConfig, *, max_model_len: int | None = None) -> KaitoEstimate:
    """KAITO's own decision, reproduced: HEAD's node estimator and v0.8's max-model-len formula.

    Raises GpuTooSmallError where KAITO refuses (`avail <= fixed`).
    """
    model = preset.weights_gib * WEIGHT_FACTOR
    g = gpu.gpu_count
    per_gpu = gpu.memory_gib
    avail = per_gpu * _UTILIZATION
    length = max_model_len if max_model_len is not None else DEFAULT_SIZING_TOKENS
    fixed = OVERHEAD_GIB + length * preset.kv_bytes_per_token / g / GIB
    if avail <= fixed:
        raise GpuTooSmallError(
            f"GPU memory {avail:.2f} GiB is too small, needs at least {fixed:.2f} GiB overhead.",
            needed_gib=fixed,
        )
    min_gpus = int(model / ((avail - fixed) / _KAITO_MARGIN)) + 1
    nodes = math.ceil(min_gpus / g)
    if nodes == 1 and g > 1 and preset.weights_gib < _DP_WEIGHT_FRACTION * per_gpu:
        tp, dp = 1, g
    else:
        tp, dp = g, 1
    pp = nodes if nodes > 1 else 1
    if max_model_len is not None:
        context = max_model_len
    else:
        room = avail - model / (nodes * g) - OVERHEAD_GIB
        tokens = int(room * GIB / (preset.kv_bytes_per_token / g * nodes))
        context = min(tokens - tokens % MAX_MODEL_LEN_STEP, preset.context_limit)
    dtype: Literal["bfloat16", "float16"] = "bfloat16" if gpu.supports_bf16 else "float16"
    return KaitoEstimate(
        nodes=nodes,
        min_gpus=min_gpus,
        tensor_parallel=tp,
        pipeline_parallel=pp,
        data_parallel=dp,
        gpu_memory_utilization=default_gpu_memory_utilization(gpu),
        max_model_len=context,
        dtype=dtype,
    )
