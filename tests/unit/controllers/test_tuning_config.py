"""KAITO's training config: the defaults per method (also shipped in manifests/), parsing, and output_dir."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kaito.controllers.tuning_config import (
    DEFAULT_TRAINING_CONFIGS,
    TEMPLATE_CONFIGMAPS,
    TRAINING_CONFIG_SECTIONS,
    TrainingConfigError,
    parse_training_config,
    training_output_dir,
)

MANIFEST = Path(__file__).resolve().parents[3] / "manifests" / "manager" / "tuning-params.yaml"


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_each_default_has_every_section_and_writes_to_mnt_results(method: str) -> None:
    config = parse_training_config(DEFAULT_TRAINING_CONFIGS[method], source="default")
    assert set(config) == set(TRAINING_CONFIG_SECTIONS)
    assert training_output_dir(config, source="default") == "/mnt/results"
    assert config["QuantizationConfig"]["load_in_4bit"] is (method == "qlora")
    assert config["LoraConfig"] == {"r": 8, "lora_alpha": 8, "lora_dropout": 0.0}


def test_the_manifests_ship_the_same_defaults_under_kaitos_names() -> None:
    shipped = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(MANIFEST.read_text())}
    for method, name in TEMPLATE_CONFIGMAPS.items():
        assert shipped[name]["data"]["training_config.yaml"] == DEFAULT_TRAINING_CONFIGS[method]


@pytest.mark.parametrize(
    ("output_dir", "expected"),
    [
        (None, "/mnt/output"),
        ("", "/mnt/output"),
        ("/mnt/results", "/mnt/results"),
        ("adapters/run-1", "/mnt/adapters/run-1"),
        ("/mnt/a/../b", "/mnt/b"),
    ],
)
def test_output_dir_follows_kaitos_rule(output_dir: str | None, expected: str) -> None:
    config = {"TrainingArguments": {"output_dir": output_dir}}
    assert training_output_dir(config, source="x") == expected


@pytest.mark.parametrize("output_dir", ["/mnt", "/mnt/..", "/mntx", "../etc", 5])
def test_an_output_dir_outside_mnt_is_refused_with_a_sentence(output_dir: object) -> None:
    with pytest.raises(TrainingConfigError, match="output_dir") as error:
        training_output_dir(
            {"TrainingArguments": {"output_dir": output_dir}}, source="tuning.config: ConfigMap 'c'"
        )
    assert "tuning.config: ConfigMap 'c'" in str(error.value)
    assert "/mnt/output" in str(error.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (None, "has no key training_config.yaml"),
        ("training_config: [", "not valid YAML"),
        ("lora: {}", "must hold a map under training_config"),
        ("training_config:\n  Lora: {}\n", "unknown section(s) Lora"),
        ("training_config:\n  LoraConfig: 8\n", "training_config.LoraConfig is 8"),
    ],
)
def test_unusable_configs_are_refused_naming_what_is_wrong(text: str | None, words: str) -> None:
    with pytest.raises(TrainingConfigError) as error:
        parse_training_config(text, source="tuning.config: ConfigMap 'c'")
    assert words in str(error.value)
    assert str(error.value).startswith("tuning.config: ConfigMap 'c'")
