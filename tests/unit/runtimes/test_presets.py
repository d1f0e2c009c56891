"""The preset catalog: every documented family present, derived figures, lookup errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kaito.runtimes.errors import UnknownPresetError
from kaito.runtimes.presets import BASE_IMAGE, Preset, get_preset, list_presets, load_presets

KAITO_PRESETS = [
    "phi-3-mini-4k-instruct",
    "phi-3-mini-128k-instruct",
    "phi-3-medium-4k-instruct",
    "phi-3-medium-128k-instruct",
    "phi-3.5-mini-instruct",
    "phi-4",
    "phi-4-mini-instruct",
    "llama-3.1-8b-instruct",
    "llama-3.3-70b-instruct",
    "mistral-7b",
    "mistral-7b-instruct",
    "qwen2.5-coder-7b-instruct",
    "qwen2.5-coder-32b-instruct",
    "deepseek-r1-distill-llama-8b",
    "deepseek-r1-distill-qwen-14b",
    "falcon-7b",
    "falcon-7b-instruct",
    "falcon-40b",
    "falcon-40b-instruct",
    "gemma-3-4b-instruct",
    "gemma-3-27b-instruct",
]


@pytest.mark.parametrize("name", KAITO_PRESETS)
def test_every_kaito_documented_preset_is_in_the_catalog(name: str) -> None:
    assert get_preset(name).name == name


def test_llama_3_2_presets_are_in_the_catalog() -> None:
    assert {"llama-3.2-1b-instruct", "llama-3.2-3b-instruct"} <= {p.name for p in list_presets()}


# Reference table (sizing.md): weights GiB and KV bytes per token.
@pytest.mark.parametrize(
    ("name", "weights", "kv", "context"),
    [
        ("phi-3-mini-4k-instruct", 7.12, 393_216, 4096),
        ("phi-4-mini-instruct", 7.15, 131_072, 131_072),
        ("llama-3.1-8b-instruct", 14.96, 131_072, 131_072),
        ("qwen2.5-coder-32b-instruct", 61.03, 262_144, 32_768),
        ("llama-3.3-70b-instruct", 131.42, 327_680, 131_072),
    ],
)
def test_reference_figures(name: str, weights: float, kv: int, context: int) -> None:
    preset = get_preset(name)
    assert (preset.weights_gib, preset.kv_bytes_per_token, preset.context_limit) == (weights, kv, context)


def test_head_dim_defaults_to_hidden_over_heads_and_falls_back_to_config() -> None:
    assert get_preset("phi-3-mini-4k-instruct").effective_head_dim == 96
    assert get_preset("gemma-3-4b-instruct").effective_head_dim == 256  # head_dim given, not 2560 / 8


def test_mla_kv_formula() -> None:
    mla = get_preset("llama-3.1-8b-instruct").model_copy(
        update={"name": "mla", "kv_lora_rank": 512, "qk_rope_head_dim": 64, "layers": 61}
    )
    assert mla.is_mla
    assert mla.kv_bytes_per_token == (512 + 64) * 61 * 2


@pytest.mark.parametrize(
    ("name", "disk", "timeout_s"),
    [
        ("phi-3-mini-4k-instruct", 88, 1800),  # 15 min + 128 s < 30 min: clamped up
        ("falcon-40b", 158, 2303),  # 900 + 18 x 77.95
        ("llama-3.3-70b-instruct", 212, 3265),  # 900 + 18 x 131.42
    ],
)
def test_disk_and_readiness_timeout(name: str, disk: int, timeout_s: int) -> None:
    preset = get_preset(name)
    assert (preset.disk_gib, preset.readiness_timeout_s) == (disk, timeout_s)


def test_readiness_timeout_is_capped_at_three_hours() -> None:
    huge = get_preset("phi-4").model_copy(update={"weights_gib": 700.0})
    assert huge.readiness_timeout_s == 180 * 60


def test_hosted_images_and_download_at_runtime() -> None:
    phi = get_preset("phi-4")
    llama = get_preset("llama-3.1-8b-instruct")
    assert phi.image == BASE_IMAGE and not phi.download_at_runtime
    assert phi.weights_artifact == "mcr.microsoft.com/aks/kaito/kaito-phi-4:0.2.0"
    assert llama.image == BASE_IMAGE and llama.download_at_runtime and llama.gated


def test_lookup_is_case_insensitive_and_accepts_the_hf_repo() -> None:
    assert get_preset("Phi-4").name == "phi-4"
    assert get_preset("meta-llama/Llama-3.3-70B-Instruct").name == "llama-3.3-70b-instruct"


def test_unknown_preset_suggests_close_names() -> None:
    with pytest.raises(UnknownPresetError) as raised:
        get_preset("llama-3.3-70b-instrct")
    assert "Did you mean llama-3.3-70b-instruct" in str(raised.value)
    assert raised.value.suggestions[0] == "llama-3.3-70b-instruct"


def test_unknown_preset_without_close_names() -> None:
    with pytest.raises(UnknownPresetError, match="Run `kaito presets`") as raised:
        get_preset("zzzz")
    assert raised.value.suggestions == []


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"hostable_image": True, "image_tag": None}, "needs an image_tag"),
        ({"hostable_image": False, "image_tag": "1"}, "licence forbids"),
        ({"kv_heads": 7}, "multiple of kv_heads"),
        ({"kv_lora_rank": 512}, "needs both"),
        ({"dtypes": ()}, "must not be empty"),
    ],
)
def test_inconsistent_entries_are_rejected(update: dict[str, object], message: str) -> None:
    data = get_preset("phi-4").model_dump()
    data.update(update)
    with pytest.raises(ValidationError, match=message):
        Preset.model_validate(data)


def test_catalog_names_are_unique_and_summary_has_derived_fields() -> None:
    names = [p.name for p in load_presets()]
    assert len(names) == len(set(names))
    row = get_preset("phi-4").summary()
    assert row["kv_bytes_per_token"] == 204_800 and row["disk_gib"] == 108
