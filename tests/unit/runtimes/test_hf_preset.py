"""Presets built from Hugging Face metadata: KAITO's keys, the same planner, refusals that name the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kaito.runtimes.errors import UnsizableModelError
from kaito.runtimes.hf_preset import is_hugging_face_id, preset_from_hf, weights_bytes_from_index
from kaito.runtimes.sizing import plan_inference
from kaito.runtimes.skus import get_gpu_config

HUB = Path(__file__).parents[2] / "fixtures" / "hub"


def _config(repo: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((HUB / repo / "config.json").read_text(encoding="utf-8"))
    return loaded


def test_qwen_7b_from_its_config_and_index_is_sized_like_a_catalog_preset() -> None:
    index = json.loads((HUB / "Qwen/Qwen2.5-7B-Instruct/model.safetensors.index.json").read_text())
    size = weights_bytes_from_index(index)
    assert size == 15_231_233_024
    preset = preset_from_hf("Qwen/Qwen2.5-7B-Instruct", _config("Qwen/Qwen2.5-7B-Instruct"), size)
    assert preset.name == "qwen2.5-7b-instruct" and preset.hf_repo == "Qwen/Qwen2.5-7B-Instruct"
    assert (preset.layers, preset.attention_heads, preset.kv_heads, preset.effective_head_dim) == (
        28,
        28,
        4,
        128,
    )
    assert preset.kv_bytes_per_token == 2 * 28 * 4 * 128 * 2
    assert preset.weights_gib == pytest.approx(14.185, abs=0.001)
    assert preset.context_limit == 32768 and preset.tool_call_parser == "hermes"
    assert preset.download_at_runtime and preset.vllm_args == {"trust-remote-code": ""}
    plan = plan_inference(preset, get_gpu_config("Standard_NV36ads_A10_v5"))
    assert (plan.nodes, plan.tensor_parallel) == (1, 1)
    assert plan.memory.headroom_gib >= plan.memory.min_headroom_gib - 1e-6


def test_multimodal_text_config_and_head_dim_are_read() -> None:
    config = {
        "architectures": ["Gemma3ForConditionalGeneration"],
        "text_config": {
            "hidden_size": 5376,
            "num_hidden_layers": 62,
            "num_attention_heads": 32,
            "num_key_value_heads": 16,
            "head_dim": 128,
            "max_position_embeddings": 131072,
        },
    }
    preset = preset_from_hf("google/gemma-3-27b-it", config, 54_870_000_000, gated=True)
    assert (preset.layers, preset.kv_heads, preset.head_dim, preset.context_limit) == (62, 16, 128, 131072)
    assert preset.gated and preset.tool_call_parser is None


def test_mla_and_quantized_checkpoints() -> None:
    config = {
        "architectures": ["DeepseekV3ForCausalLM"],
        "hidden_size": 7168,
        "num_hidden_layers": 61,
        "num_attention_heads": 128,
        "num_key_value_heads": 128,
        "kv_lora_rank": 512,
        "qk_rope_head_dim": 64,
        "max_position_embeddings": 163840,
        "quantization_config": {"quant_method": "fp8"},
    }
    preset = preset_from_hf("deepseek-ai/DeepSeek-V3", config, 688_586_727_753)
    assert preset.is_mla and preset.kv_bytes_per_token == (512 + 64) * 61 * 2
    assert preset.quant_method == "fp8" and preset.dtypes == ("bfloat16",)
    assert preset.reasoning_parser == "deepseek_v3"


def test_context_defaults_to_kaitos_2048_and_multi_query_means_one_kv_head() -> None:
    config = {"n_embd": 4544, "n_layer": 32, "n_head": 71, "multi_query": True}
    preset = preset_from_hf("tiiuae/falcon-7b", config, 14_000_000_000)
    assert (preset.hidden_size, preset.layers, preset.kv_heads, preset.context_limit) == (4544, 32, 1, 2048)


@pytest.mark.parametrize(
    ("config", "size", "message"),
    [
        (
            _config("google-t5/t5-small"),
            242_041_896,
            "google-t5/t5-small's config.json gives no layer count "
            "(num_hidden_layers, nor n_layer, n_layers)",
        ),
        (
            {
                "hidden_size": 1024,
                "num_hidden_layers": 8,
                "num_attention_heads": 12,
                "num_key_value_heads": 5,
            },
            10**9,
            "has 12 attention heads and 5 KV heads",
        ),
        (_config("Qwen/Qwen2.5-0.5B-Instruct"), 0, "publishes no safetensors weights kaito can measure"),
    ],
)
def test_what_cannot_be_sized_is_refused_by_name(config: dict[str, Any], size: int, message: str) -> None:
    repo = "google-t5/t5-small" if "d_model" in config else "org/model"
    with pytest.raises(UnsizableModelError) as raised:
        preset_from_hf(repo, config, size)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("index", "expected"),
    [({"metadata": {"total_size": 10}}, 10), ({"metadata": {}}, None), ({"weight_map": {}}, None)],
)
def test_index_total_size(index: dict[str, Any], expected: int | None) -> None:
    assert weights_bytes_from_index(index) == expected


def test_hugging_face_ids() -> None:
    assert is_hugging_face_id("Qwen/Qwen2.5-7B-Instruct")
    assert not is_hugging_face_id("phi-4") and not is_hugging_face_id("a/b/c")
