"""kaito.tune's run, where it can be checked without torch: QLoRA is refused where it cannot run.

The run itself (a LoRA adapter trained on CPU that changes the model's output) is tests/e2e/vllm/
test_tune_e2e.py, in the environment that has torch, transformers and peft.
"""

from __future__ import annotations

import pytest

from kaito.controllers.tuning_config import DEFAULT_TRAINING_CONFIGS
from kaito.tune.config import parse_config
from kaito.tune.train import TuneError, check_quantization


def test_qlora_without_a_gpu_is_refused_with_a_sentence_naming_the_key() -> None:
    with pytest.raises(TuneError) as error:
        check_quantization(parse_config(DEFAULT_TRAINING_CONFIGS["qlora"]), cuda=False)
    assert str(error.value).startswith(
        "QuantizationConfig.load_in_4bit is true (the qlora method), which needs"
    )
    assert "use the lora method (QuantizationConfig.load_in_4bit: false) to train on CPU" in str(error.value)


def test_8_bit_is_named_as_such() -> None:
    config = parse_config("training_config:\n  QuantizationConfig: {load_in_8bit: true}")
    with pytest.raises(TuneError, match=r"^QuantizationConfig.load_in_8bit is true"):
        check_quantization(config, cuda=False)


def test_lora_runs_anywhere() -> None:
    check_quantization(parse_config(DEFAULT_TRAINING_CONFIGS["lora"]), cuda=False)
