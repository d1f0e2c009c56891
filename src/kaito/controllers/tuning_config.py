"""KAITO's training configuration for tuning Jobs: the default per method, and what the Job reads from it.

KAITO's trainer reads one file, `/mnt/config/training_config.yaml`, from a ConfigMap mounted at /mnt/config:

    training_config:
      ModelConfig:        AutoModelForCausalLM.from_pretrained arguments (torch_dtype, device_map, ...)
      QuantizationConfig: BitsAndBytesConfig arguments (load_in_4bit turns LoRA into QLoRA)
      LoraConfig:         peft.LoraConfig arguments (r, lora_alpha, lora_dropout, target_modules)
      TrainingArguments:  transformers/trl training arguments; output_dir is where the adapter is written
      DataCollator:       DataCollatorForLanguageModeling arguments
      DatasetConfig:      dataset_path, shuffle_dataset, train_test_split, column names

KAITO ships one default per method as ConfigMaps `lora-params-template` / `qlora-params-template` in the
operator's namespace (manifests/manager/tuning-params.yaml holds the same text as `DEFAULT_TRAINING_CONFIGS`,
a unit test keeps them equal). A Workspace that names no `tuning.config` gets a copy of its method's
default in its own namespace (a pod can mount only ConfigMaps of its namespace); one that names a ConfigMap
gets that ConfigMap instead, whole: KAITO does not merge the two, the trainer's own defaults fill what a
section leaves out.

`output_dir` decides where the results volume is mounted (KAITO's rule): relative paths are put under /mnt,
a path outside /mnt or /mnt itself is refused; unset means /mnt/output.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any, Final

import yaml

__all__ = [
    "CONFIG_FILE",
    "CONFIG_MOUNT",
    "DEFAULT_OUTPUT_DIR",
    "DEFAULT_TRAINING_CONFIGS",
    "TEMPLATE_CONFIGMAPS",
    "TRAINING_CONFIG_SECTIONS",
    "TrainingConfigError",
    "parse_training_config",
    "training_output_dir",
]

CONFIG_MOUNT: Final = "/mnt/config"
CONFIG_FILE: Final = "training_config.yaml"
DEFAULT_OUTPUT_DIR: Final = "/mnt/output"
_BASE_DIR: Final = "/mnt"

TRAINING_CONFIG_SECTIONS: Final = (
    "ModelConfig",
    "QuantizationConfig",
    "LoraConfig",
    "TrainingArguments",
    "DataCollator",
    "DatasetConfig",
)

TEMPLATE_CONFIGMAPS: Final[Mapping[str, str]] = {
    "lora": "lora-params-template",
    "qlora": "qlora-params-template",
}
"""The operator-namespace ConfigMap holding each method's default (KAITO's names)."""

_QUANTIZATION = {
    "lora": """\
  QuantizationConfig:
    load_in_4bit: false
""",
    "qlora": """\
  QuantizationConfig:
    load_in_4bit: true
    bnb_4bit_quant_type: "nf4"
    bnb_4bit_compute_dtype: "bfloat16"
    bnb_4bit_use_double_quant: true
""",
}


def _default(method: str) -> str:
    return (
        f"# KAITO's default training configuration for {method} "
        "(the trainer reads /mnt/config/training_config.yaml).\n"
        + """\
training_config:
  ModelConfig:  # AutoModelForCausalLM.from_pretrained arguments
    torch_dtype: "bfloat16"
    local_files_only: true
    device_map: "auto"
"""
        + _QUANTIZATION[method]
        + """\
  LoraConfig:  # peft.LoraConfig arguments
    r: 8
    lora_alpha: 8
    lora_dropout: 0.0
  TrainingArguments:  # training arguments; the adapter is written to output_dir
    output_dir: "/mnt/results"
    ddp_find_unused_parameters: false
    save_strategy: "no"
    per_device_train_batch_size: 1
  DataCollator:
    mlm: true  # turned off by the trainer when the tokenizer has no mask token
  DatasetConfig:
    shuffle_dataset: true
    train_test_split: 1  # all data for training
    # rows like {"messages": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}]}
"""
    )


DEFAULT_TRAINING_CONFIGS: Final[Mapping[str, str]] = {
    method: _default(method) for method in ("lora", "qlora")
}
"""The text of `training_config.yaml` each method gets when the Workspace names no tuning.config."""


class TrainingConfigError(ValueError):
    """The training configuration cannot be used; the message names the ConfigMap, the key and the value."""


def parse_training_config(text: str | None, *, source: str) -> dict[str, Any]:
    """The `training_config` map of a training_config.yaml; `source` names where it came from in errors."""
    if text is None:
        raise TrainingConfigError(f"{source} has no key {CONFIG_FILE}; add it with a training_config: map")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise TrainingConfigError(f"{source}: {CONFIG_FILE} is not valid YAML ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("training_config"), dict):
        raise TrainingConfigError(
            f"{source}: {CONFIG_FILE} must hold a map under training_config: with the sections "
            f"{', '.join(TRAINING_CONFIG_SECTIONS)}"
        )
    config: dict[str, Any] = data["training_config"]
    unknown = sorted(set(config) - set(TRAINING_CONFIG_SECTIONS))
    if unknown:
        raise TrainingConfigError(
            f"{source}: training_config has unknown section(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(TRAINING_CONFIG_SECTIONS)}"
        )
    for section, value in config.items():
        if value is not None and not isinstance(value, dict):
            raise TrainingConfigError(
                f"{source}: training_config.{section} is {value!r}; write a map of arguments"
            )
    return config


def training_output_dir(config: Mapping[str, Any], *, source: str) -> str:
    """Where the trainer writes the adapter (the results volume's mount path), by KAITO's rule."""
    arguments = config.get("TrainingArguments") or {}
    value = arguments.get("output_dir")
    if value is None or value == "":
        return DEFAULT_OUTPUT_DIR
    if not isinstance(value, str):
        raise TrainingConfigError(
            f"{source}: training_config.TrainingArguments.output_dir is {value!r}; write a path such as "
            f"{DEFAULT_OUTPUT_DIR}"
        )
    path = value if value.startswith(_BASE_DIR) else posixpath.join(_BASE_DIR, value)
    path = posixpath.normpath(path)
    if path == _BASE_DIR or not path.startswith(_BASE_DIR + "/"):
        raise TrainingConfigError(
            f"{source}: training_config.TrainingArguments.output_dir {value!r} is not a directory under "
            f"{_BASE_DIR}; write one such as {DEFAULT_OUTPUT_DIR} or results"
        )
    return path
