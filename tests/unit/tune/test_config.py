"""kaito.tune's reading of training_config.yaml: KAITO's defaults, overrides, and refusals as sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaito.controllers.tuning_config import DEFAULT_TRAINING_CONFIGS
from kaito.tune.config import ConfigError, load_config, parse_config


def test_kaitos_qlora_default_reads_as_a_quantized_run_into_mnt_results() -> None:
    config = parse_config(DEFAULT_TRAINING_CONFIGS["qlora"])
    assert config.quantized
    assert config.model_path == "/workspace/tfs/weights"
    assert config.training.output_dir == "/mnt/results"
    assert config.training.per_device_train_batch_size == 1
    assert config.lora == {"r": 8, "lora_alpha": 8, "lora_dropout": 0.0}
    assert config.dataset.train_test_split == 1.0
    assert config.ignored_keys() == [
        "DataCollator.mlm",
        "TrainingArguments.ddp_find_unused_parameters",
        "TrainingArguments.save_strategy",
    ]


def test_an_empty_file_takes_every_default() -> None:
    config = parse_config("")
    assert not config.quantized
    assert config.training.output_dir == "/mnt/output"
    assert (config.training.num_train_epochs, config.training.max_steps) == (3.0, -1)
    assert config.dataset.response_column == "text"


def test_overrides_are_read_with_their_types() -> None:
    config = parse_config(
        """
training_config:
  ModelConfig: {pretrained_model_name_or_path: /models/tiny}
  TrainingArguments: {output_dir: adapters/run, max_steps: 5, learning_rate: 0.01, max_seq_length: 256}
  DatasetConfig: {messages_column: conversation, train_test_split: 0.9}
"""
    )
    assert config.model_path == "/models/tiny"
    assert config.training.output_dir == "/mnt/adapters/run"  # relative paths live under /mnt, as in KAITO
    assert (config.training.max_steps, config.training.learning_rate, config.training.max_length) == (
        5,
        0.01,
        256,
    )
    assert (config.dataset.messages_column, config.dataset.train_test_split) == ("conversation", 0.9)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("training_config: [", "is not valid YAML"),
        ("training_config: 3", "must hold a map under training_config"),
        ("training_config:\n  Lora: {}", "unknown section(s) Lora under training_config"),
        ("training_config:\n  LoraConfig: 8", "training_config.LoraConfig is 8; write a map"),
        ("training_config:\n  TrainingArguments: {max_steps: many}", "TrainingArguments.max_steps is 'many'"),
        ("training_config:\n  TrainingArguments: {learning_rate: -1}", "must be at least 0"),
        ("training_config:\n  DatasetConfig: {train_test_split: 0}", "DatasetConfig.train_test_split is 0"),
        ("training_config:\n  TrainingArguments: {output_dir: 7}", "TrainingArguments.output_dir is 7"),
    ],
)
def test_unusable_values_are_refused_naming_the_key(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(text, source="/mnt/config/training_config.yaml")
    assert words in str(error.value)


def test_a_missing_file_says_where_the_config_is_expected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "training_config.yaml")
    assert "mount a ConfigMap with the key training_config.yaml at /mnt/config" in str(error.value)
