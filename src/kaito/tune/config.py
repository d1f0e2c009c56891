"""The trainer's configuration: KAITO's training_config.yaml, read into typed sections.

The file KAITO's trainer reads (`/mnt/config/training_config.yaml`, or `$YAML_FILE_PATH`):

    training_config:
      ModelConfig:        pretrained_model_name_or_path (default /workspace/tfs/weights), torch_dtype,
                          local_files_only, trust_remote_code, device_map, chat_template, revision
      QuantizationConfig: load_in_4bit / load_in_8bit and the bnb_4bit_* options (QLoRA; GPU only)
      LoraConfig:         r, lora_alpha, lora_dropout, target_modules, bias, ...  (peft.LoraConfig)
      TrainingArguments:  output_dir, num_train_epochs, max_steps, learning_rate, per_device_train_batch_size,
                          gradient_accumulation_steps, logging_steps, seed, max_length (max_seq_length)
      DataCollator:       mlm (ignored: causal language modelling is what the trainer does)
      DatasetConfig:      dataset_path, dataset_extension, shuffle_dataset, shuffle_seed, context_column,
                          response_column, messages_column, train_test_split

Sections map to plain dicts kept as given, plus typed accessors for what this trainer acts on; keys this
trainer does not act on are listed by `ignored_keys()` so the log can say so instead of silently dropping
them. Errors are sentences naming the section, the key and the value.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_MODEL_PATH",
    "DEFAULT_OUTPUT_DIR",
    "SECTIONS",
    "ConfigError",
    "DatasetSettings",
    "TrainingSettings",
    "TuneConfig",
    "load_config",
    "parse_config",
]

DEFAULT_CONFIG_PATH = "/mnt/config/training_config.yaml"
DEFAULT_MODEL_PATH = "/workspace/tfs/weights"
DEFAULT_OUTPUT_DIR = "/mnt/output"
SECTIONS = (
    "ModelConfig",
    "QuantizationConfig",
    "LoraConfig",
    "TrainingArguments",
    "DataCollator",
    "DatasetConfig",
)
_TRAINING_KEYS = {
    "output_dir",
    "num_train_epochs",
    "max_steps",
    "learning_rate",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "logging_steps",
    "seed",
    "max_length",
    "max_seq_length",
    "weight_decay",
    "warmup_steps",
}
_MODEL_KEYS = {
    "pretrained_model_name_or_path",
    "torch_dtype",
    "local_files_only",
    "trust_remote_code",
    "device_map",
    "chat_template",
    "revision",
    "cache_dir",
}
_DATASET_KEYS = {
    "dataset_path",
    "dataset_extension",
    "shuffle_dataset",
    "shuffle_seed",
    "context_column",
    "response_column",
    "messages_column",
    "train_test_split",
}


class ConfigError(ValueError):
    """The training configuration cannot be used; the message says which key, which value, and what works."""


def _number(section: str, key: str, value: Any, kind: type, *, minimum: float | None = None) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise ConfigError(
            f"{section}.{key} is {value!r}; write a {'number' if kind is float else 'whole number'}"
        )
    if minimum is not None and value < minimum:
        raise ConfigError(f"{section}.{key} is {value!r}; it must be at least {minimum:g}")
    return kind(value)


@dataclass(frozen=True)
class TrainingSettings:
    """The TrainingArguments this trainer acts on, with transformers' defaults where KAITO sets none."""

    output_dir: str = DEFAULT_OUTPUT_DIR
    num_train_epochs: float = 3.0
    max_steps: int = -1
    learning_rate: float = 2e-4
    per_device_train_batch_size: int = 1
    gradient_accumulation_steps: int = 1
    logging_steps: int = 1
    seed: int = 42
    max_length: int = 1024
    weight_decay: float = 0.0
    warmup_steps: int = 0

    @classmethod
    def from_section(cls, raw: Mapping[str, Any]) -> TrainingSettings:
        s = "TrainingArguments"
        values: dict[str, Any] = {}
        if raw.get("output_dir") not in (None, ""):
            values["output_dir"] = _output_dir(raw["output_dir"])
        floats = {"num_train_epochs": 0.0, "learning_rate": 0.0, "weight_decay": 0.0}
        for key, low in floats.items():
            if key in raw:
                values[key] = _number(s, key, raw[key], float, minimum=low)
        ints = {
            "max_steps": -1,
            "per_device_train_batch_size": 1,
            "gradient_accumulation_steps": 1,
            "logging_steps": 1,
            "seed": 0,
            "warmup_steps": 0,
        }
        for key, low in ints.items():
            if key in raw:
                values[key] = _number(s, key, raw[key], int, minimum=low)
        length = raw.get("max_length", raw.get("max_seq_length"))
        if length is not None:
            values["max_length"] = _number(s, "max_length", length, int, minimum=8)
        return cls(**values)


def _output_dir(value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(
            f"TrainingArguments.output_dir is {value!r}; write a path such as {DEFAULT_OUTPUT_DIR}"
        )
    # KAITO's rule: relative paths live under /mnt (the results volume is mounted there)
    return value if posixpath.isabs(value) else posixpath.join("/mnt", value)


@dataclass(frozen=True)
class DatasetSettings:
    """DatasetConfig: where the data is and which columns hold the text."""

    dataset_path: str | None = None
    dataset_extension: str | None = None
    shuffle_dataset: bool = True
    shuffle_seed: int = 42
    context_column: str | None = None
    response_column: str = "text"
    messages_column: str | None = None
    train_test_split: float = 0.8

    @classmethod
    def from_section(cls, raw: Mapping[str, Any]) -> DatasetSettings:
        values = {k: raw[k] for k in _DATASET_KEYS if k in raw and raw[k] is not None}
        split = values.get("train_test_split", 0.8)
        if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 < split <= 1:
            raise ConfigError(
                f"DatasetConfig.train_test_split is {split!r}; write the share of rows used for training, "
                "more than 0 and at most 1 (1 uses every row)"
            )
        values["train_test_split"] = float(split)
        return cls(**values)


@dataclass(frozen=True)
class TuneConfig:
    """A parsed training_config.yaml: the raw sections, and typed views of what the trainer uses."""

    sections: dict[str, dict[str, Any]]
    training: TrainingSettings = field(default_factory=TrainingSettings)
    dataset: DatasetSettings = field(default_factory=DatasetSettings)

    @property
    def model(self) -> dict[str, Any]:
        """ModelConfig as given."""
        return self.sections.get("ModelConfig", {})

    @property
    def model_path(self) -> str:
        """Where the base model is (ModelConfig.pretrained_model_name_or_path)."""
        return str(self.model.get("pretrained_model_name_or_path") or DEFAULT_MODEL_PATH)

    @property
    def quantization(self) -> dict[str, Any]:
        """QuantizationConfig as given."""
        return self.sections.get("QuantizationConfig", {})

    @property
    def quantized(self) -> bool:
        """True for QLoRA: the base model is loaded in 4 or 8 bits."""
        return bool(self.quantization.get("load_in_4bit") or self.quantization.get("load_in_8bit"))

    @property
    def lora(self) -> dict[str, Any]:
        """LoraConfig as given (peft.LoraConfig arguments)."""
        return self.sections.get("LoraConfig", {})

    def ignored_keys(self) -> list[str]:
        """Keys given in the file that this trainer does not act on, as Section.key."""
        acted = {
            "ModelConfig": _MODEL_KEYS,
            "TrainingArguments": _TRAINING_KEYS,
            "DatasetConfig": _DATASET_KEYS,
        }
        ignored = []
        for section, keys in acted.items():
            ignored += [f"{section}.{k}" for k in self.sections.get(section, {}) if k not in keys]
        ignored += [f"DataCollator.{k}" for k in self.sections.get("DataCollator", {})]
        return sorted(ignored)


def parse_config(text: str, *, source: str = "training_config.yaml") -> TuneConfig:
    """Parse the text of a training_config.yaml; raises ConfigError with a sentence."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{source} is not valid YAML: {error}") from None
    if data is None:
        data = {"training_config": {}}
    if not isinstance(data, dict) or not isinstance(data.get("training_config", {}), dict):
        raise ConfigError(
            f"{source} must hold a map under training_config: with the sections {', '.join(SECTIONS)}"
        )
    raw = data.get("training_config") or {}
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(
            f"{source}: unknown section(s) {', '.join(unknown)} under training_config; "
            f"accepted: {', '.join(SECTIONS)}"
        )
    sections: dict[str, dict[str, Any]] = {}
    for name, value in raw.items():
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: training_config.{name} is {value!r}; write a map of arguments")
        sections[name] = value
    return TuneConfig(
        sections=sections,
        training=TrainingSettings.from_section(sections.get("TrainingArguments", {})),
        dataset=DatasetSettings.from_section(sections.get("DatasetConfig", {})),
    )


def load_config(path: str | Path) -> TuneConfig:
    """Read and parse a training_config.yaml file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            f"cannot read the training config {file}: {error.strerror}; mount a ConfigMap with the key "
            "training_config.yaml at /mnt/config, or pass --config PATH"
        ) from None
    return parse_config(text, source=str(file))
