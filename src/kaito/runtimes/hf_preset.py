"""A preset for any Hugging Face model id, built from its config.json and the size of its weights.

KAITO accepts `org/model` as `preset.name` and generates a preset from the hub's metadata
(presets/workspace/generator/generator.go); this is the same, as pure functions of that metadata, so the
same planner sizes the result. The I/O (fetching config.json, model.safetensors.index.json, the token from
the Workspace's Secret) lives in the caller (kaito.controllers.model_hub).

What is read, in KAITO's order of keys (multimodal configs first promote `text_config` / `llm_config`):

* context      max_position_embeddings, n_ctx, seq_length, max_seq_len, max_sequence_length,
               model_max_length — KAITO's default 2048 when none is given;
* hidden size  hidden_size, n_embd, d_model, dim;   layers  num_hidden_layers, n_layer, n_layers;
* heads        num_attention_heads, n_head, n_heads; KV heads  num_key_value_heads, n_head_kv, n_kv_heads,
               else 1 for `multi_query`, else the attention heads;
* head dim     head_dim, attention_head_dim, else hidden / heads; MLA  kv_lora_rank + qk_rope_head_dim;
* quantization quantization_config.quant_method (served with --dtype auto);
* weights      the `metadata.total_size` of model.safetensors.index.json, or one model.safetensors' size.

The preset's name is the repo's last part in lower case (KAITO's), its tool/reasoning parsers come from
the architecture (a subset of KAITO's maps), and vLLM gets --trust-remote-code as KAITO passes it.
What cannot be sized (no layers, heads or hidden size; heads not a multiple of KV heads; no weights) is
refused with `UnsizableModelError`, a sentence naming the missing key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from kaito.api.formats import is_hf_model_id
from kaito.runtimes.errors import UnsizableModelError
from kaito.runtimes.presets import Dtype, Preset

__all__ = [
    "DEFAULT_CONTEXT",
    "is_hugging_face_id",
    "preset_from_hf",
    "weights_bytes_from_index",
]

DEFAULT_CONTEXT = 2048  # KAITO's DefaultModelTokenLimit when config.json names no context length

_CONTEXT_KEYS = (
    "max_position_embeddings",
    "n_ctx",
    "seq_length",
    "max_seq_len",
    "max_sequence_length",
    "model_max_length",
)
_HIDDEN_KEYS = ("hidden_size", "n_embd", "d_model", "dim")
_LAYER_KEYS = ("num_hidden_layers", "n_layer", "n_layers")
_HEAD_KEYS = ("num_attention_heads", "n_head", "n_heads")
_KV_HEAD_KEYS = ("num_key_value_heads", "n_head_kv", "n_kv_heads")
_HEAD_DIM_KEYS = ("head_dim", "attention_head_dim")

# From KAITO's generator.go (toolCallParserArchMap / reasoningParserArchMap), the architectures kaito-py's
# catalog also serves; an architecture not listed gets no parser (the user may set one in inference.config).
_TOOL_PARSERS = {
    "LlamaForCausalLM": "llama3_json",
    "MistralForCausalLM": "mistral",
    "Qwen2ForCausalLM": "hermes",
    "Qwen3ForCausalLM": "hermes",
    "Qwen3MoeForCausalLM": "qwen3_xml",
    "DeepseekV3ForCausalLM": "deepseek_v3",
    "GptOssForCausalLM": "openai",
    "GraniteForCausalLM": "granite",
    "Phi4MiniForCausalLM": "phi4_mini_json",
}
_REASONING_PARSERS = {
    "DeepseekV3ForCausalLM": "deepseek_v3",
    "GptOssForCausalLM": "openai_gptoss",
    "Qwen3ForCausalLM": "qwen3",
    "Qwen3MoeForCausalLM": "qwen3",
    "GraniteForCausalLM": "granite",
}
# Dense decoder architectures vLLM applies LoRA adapters to.
_LORA_ARCHITECTURES = frozenset(
    {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "Phi3ForCausalLM"}
)
_GIB = 1024**3


def is_hugging_face_id(name: str) -> bool:
    """`org/model` as the Hugging Face hub spells repository ids."""
    return is_hf_model_id(name.strip())


def weights_bytes_from_index(index: Mapping[str, Any]) -> int | None:
    """`metadata.total_size` of a model.safetensors.index.json, or None when it is absent or not a size."""
    metadata = index.get("metadata")
    total = metadata.get("total_size") if isinstance(metadata, Mapping) else None
    if isinstance(total, bool) or not isinstance(total, int | float) or total <= 0:
        return None
    return int(total)


def _merged(config: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(config)
    for nested_key in ("text_config", "llm_config"):
        nested = config.get(nested_key)
        if isinstance(nested, Mapping):
            for key, value in nested.items():
                merged.setdefault(key, value)
            break
    return merged


def _int(config: Mapping[str, Any], keys: Sequence[str]) -> int | None:
    for key in keys:
        value = config.get(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float) and value > 0:
            return int(value)
        if isinstance(value, str) and value.isdigit() and int(value) > 0:
            return int(value)
    return None


def _required(repo: str, config: Mapping[str, Any], keys: Sequence[str], what: str) -> int:
    value = _int(config, keys)
    if value is None:
        alternatives = ", ".join(keys[1:])
        raise UnsizableModelError(
            f"{repo}'s config.json gives no {what} ({keys[0]}, nor {alternatives}), so kaito cannot size it; "
            "use a preset from `kaito presets`, or a model whose config.json has it."
        )
    return value


def preset_from_hf(
    repo: str, config: Mapping[str, Any], weights_bytes: int, *, gated: bool = False
) -> Preset:
    """The preset for Hugging Face model `repo`, from its config.json and its weights' total bytes."""
    if weights_bytes <= 0:
        raise UnsizableModelError(
            f"{repo} publishes no safetensors weights kaito can measure (neither "
            "model.safetensors.index.json nor model.safetensors), so kaito cannot size it."
        )
    merged = _merged(config)
    hidden = _required(repo, merged, _HIDDEN_KEYS, "hidden size")
    layers = _required(repo, merged, _LAYER_KEYS, "layer count")
    heads = _required(repo, merged, _HEAD_KEYS, "attention head count")
    kv_heads = _int(merged, _KV_HEAD_KEYS) or (1 if merged.get("multi_query") is True else heads)
    if heads % kv_heads:
        raise UnsizableModelError(
            f"{repo}'s config.json has {heads} attention heads and {kv_heads} KV heads; kaito can size only "
            "models whose attention heads are a multiple of their KV heads."
        )
    kv_lora_rank = _int(merged, ("kv_lora_rank",))
    qk_rope = _int(merged, ("qk_rope_head_dim",)) if kv_lora_rank is not None else None
    if kv_lora_rank is not None and qk_rope is None:
        kv_lora_rank = None  # MLA needs both; without the rope dim size it as ordinary attention
    quantization = merged.get("quantization_config")
    quant_method = quantization.get("quant_method") if isinstance(quantization, Mapping) else None
    architectures = merged.get("architectures")
    architecture = str(architectures[0]) if isinstance(architectures, list) and architectures else "unknown"
    dtypes: tuple[Dtype, ...] = (
        ("bfloat16",) if quant_method or merged.get("torch_dtype") == "float32" else ("bfloat16", "float16")
    )
    try:
        return Preset(
            name=repo.rsplit("/", 1)[-1].lower(),
            hf_repo=repo,
            source=f"https://huggingface.co/{repo}",
            architecture=architecture,
            weights_gib=round(weights_bytes / _GIB, 4),
            layers=layers,
            attention_heads=heads,
            kv_heads=kv_heads,
            hidden_size=hidden,
            head_dim=_int(merged, _HEAD_DIM_KEYS),
            kv_lora_rank=kv_lora_rank,
            qk_rope_head_dim=qk_rope,
            context_limit=_int(merged, _CONTEXT_KEYS) or DEFAULT_CONTEXT,
            quant_method=str(quant_method) if quant_method else None,
            dtypes=dtypes,
            tool_call_parser=_TOOL_PARSERS.get(architecture),
            reasoning_parser=_REASONING_PARSERS.get(architecture),
            license="see the model card",
            gated=gated,
            supports_lora=architecture in _LORA_ARCHITECTURES and not quant_method,
            vllm_args={"trust-remote-code": ""},
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "config.json"
        raise UnsizableModelError(
            f"{repo}'s metadata cannot be sized: {where} {first['msg'].lower()}."
        ) from None
