"""inference_config.yaml: parsing, validation by name, and applying overrides last."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.runtimes.config import (
    Override,
    apply_overrides,
    flag_types,
    managed_flags,
    parallelism_inputs,
    parse_inference_config,
    render_args,
    retired_keys,
    sizing_inputs,
    validate_overrides,
)
from kaito.runtimes.errors import InferenceConfigError

KAITO_DEFAULT = """
# Maximum number of steps to find the max available seq len fitting in the GPU memory.
max_probe_steps: 6
vllm:
  cpu-offload-gb: 0
  gpu-memory-utilization: 0.95
  swap-space: 4
"""


def test_parses_kaitos_default_config() -> None:
    config = parse_inference_config(KAITO_DEFAULT)
    assert config.max_probe_steps == 6
    assert config.vllm == {"cpu-offload-gb": 0, "gpu-memory-utilization": 0.95, "swap-space": 4}
    assert config.transformers == {}


@pytest.mark.parametrize("text", [None, "", "   \n", "# only a comment\n"])
def test_empty_config(text: str | None) -> None:
    assert parse_inference_config(text).vllm == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("vllm: [1, 2]", "key 'vllm' must be a map"),
        (
            "- a\n- b",
            "must be a map with keys vllm, transformers, max_probe_steps, "
            "kv_cache_cpu_memory_utilization; it is a list",
        ),
        ("vllm: {}\nspeculative: {}", "unknown key 'speculative'"),
        ("max_probe_steps: many", "max_probe_steps is 'many'; expected a whole number"),
        ("vllm: {a: [}", "not valid YAML"),
    ],
)
def test_parse_problems_name_the_key(text: str, message: str) -> None:
    with pytest.raises(InferenceConfigError) as raised:
        parse_inference_config(text)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"max-num-seqs": 64}, [("max-num-seqs", "64", False)]),
        ({"max_num_seqs": "64"}, [("max-num-seqs", "64", False)]),
        ({"--swap-space": 4.5}, [("swap-space", "4.5", False)]),
        ({"enforce-eager": True}, [("enforce-eager", None, False)]),
        ({"enable-auto-tool-choice": False}, [("enable-auto-tool-choice", None, True)]),
        ({"chat-template": None}, [("chat-template", None, True)]),
        (
            {"speculative-config": {"num_speculative_tokens": 5, "method": "ngram"}},
            [("speculative-config", '{"method":"ngram","num_speculative_tokens":5}', False)],
        ),
        ({"cuda-graph-sizes": [1, 2, 4]}, [("cuda-graph-sizes", ("1", "2", "4"), False)]),
        ({"seed": 7, "dtype": "half"}, [("dtype", "half", False), ("seed", "7", False)]),
    ],
)
def test_valid_overrides(raw: dict[str, Any], expected: list[tuple[str, object, bool]]) -> None:
    got = [(o.flag, o.value, o.remove) for o in validate_overrides("vllm", raw)]
    assert got == expected


def test_every_problem_is_reported_by_name_at_once() -> None:
    raw = {
        "max-model-len": 4096,
        "max_model_len": 8192,
        "port": 8000,
        "gpu-memory-utilisation": 0.9,
        "max-num-seqs": "many",
        "enforce-eager": "yes",
        "speculative-config": "{not json",
        "seed": True,
        "cuda-graph-sizes": [{"a": 1}],
    }
    with pytest.raises(InferenceConfigError) as raised:
        validate_overrides("vllm", raw)
    problems = raised.value.problems
    expected = [
        "vllm.max-model-len and vllm.max_model_len both set --max-model-len",
        "vllm.port is managed by kaito",
        "vllm.gpu-memory-utilisation is not a vllm flag kaito knows. Did you mean gpu-memory-utilization?",
        "vllm.max-num-seqs is 'many'; expected a whole number",
        "vllm.enforce-eager is 'yes'; expected true or false",
        "vllm.speculative-config is '{not json'; expected a map or JSON text",
        "vllm.seed is True; it takes a int value",
        "vllm.cuda-graph-sizes is [{'a': 1}]; expected a value or a list of values",
    ]
    assert len(problems) == len(expected)
    for fragment, problem in zip(expected, problems, strict=True):
        assert fragment in problem


@pytest.mark.parametrize("flag", sorted(managed_flags("vllm")))
def test_managed_vllm_flags_are_refused(flag: str) -> None:
    with pytest.raises(InferenceConfigError, match="managed by kaito"):
        validate_overrides("vllm", {flag: "x"})


def test_transformers_flags_have_their_own_table() -> None:
    assert validate_overrides("transformers", {"attn_implementation": "sdpa"})[0].value == "sdpa"
    with pytest.raises(InferenceConfigError, match=r"transformers\.max-model-len is not a transformers flag"):
        validate_overrides("transformers", {"max-model-len": 1})
    assert {"host", "port", "model", "served-model-name"} == managed_flags("transformers")
    assert flag_types("transformers")["trust-remote-code"] == "bool"


def test_overrides_are_applied_last_replacing_or_removing_the_operators_flags() -> None:
    args = [("model", "m"), ("dtype", "bfloat16"), ("enable-auto-tool-choice", None), ("port", "5000")]
    overrides = [
        Override(flag="dtype", value="half", source_key="dtype"),
        Override(flag="enable-auto-tool-choice", remove=True, source_key="enable-auto-tool-choice"),
        Override(flag="seed", value="1", source_key="seed"),
    ]
    assert render_args(apply_overrides(args, overrides)) == [
        "--model",
        "m",
        "--port",
        "5000",
        "--dtype",
        "half",
        "--seed",
        "1",
    ]


def test_render_args_handles_bare_and_multi_value_flags() -> None:
    assert render_args([("enable-lora", None), ("lora-modules", ("a=/x", "b=/y"))]) == [
        "--enable-lora",
        "--lora-modules",
        "a=/x",
        "b=/y",
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, (None, None)),
        ({"max-model-len": 8192, "gpu-memory-utilization": 0.9}, (8192, 0.9)),
        ({"max_model_len": "4096"}, (4096, None)),
    ],
)
def test_sizing_inputs(raw: dict[str, Any], expected: tuple[int | None, float | None]) -> None:
    assert sizing_inputs(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"max-model-len": 0}, "vllm.max-model-len is 0; expected a positive number of tokens"),
        ({"gpu-memory-utilization": 1.5}, "vllm.gpu-memory-utilization is 1.5; expected a fraction"),
    ],
)
def test_sizing_inputs_out_of_range(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InferenceConfigError, match=message):
        sizing_inputs(raw)


def test_kaito_default_template_keys_are_accepted() -> None:
    """KAITO's own examples (kaito_workspace_custom_config.yaml) parse unchanged."""
    text = (
        "max_probe_steps: 6\nkv_cache_cpu_memory_utilization: 0.5\n"
        "vllm:\n  cpu-offload-gb: 0\n  gpu-memory-utilization: 0.95\n  swap-space: 4\n"
        "  max-model-len: 131072\n  tensor-parallel-size: 2\n  max-seq-len-to-capture: 8192\n"
        "  enable-chunked-prefill: true\n"
    )
    config = parse_inference_config(text)
    assert config.max_probe_steps == 6 and config.kv_cache_cpu_memory_utilization == 0.5
    assert parallelism_inputs(config.vllm) == {"tensor-parallel-size": ("tensor-parallel-size", 2)}
    assert sizing_inputs(config.vllm) == (131072, 0.95)


@pytest.mark.parametrize("value", [1.5, -0.1, "half", True])
def test_kv_cache_cpu_memory_utilization_must_be_a_fraction(value: object) -> None:
    with pytest.raises(InferenceConfigError, match=r"kv_cache_cpu_memory_utilization is .*from 0"):
        parse_inference_config(f"kv_cache_cpu_memory_utilization: {value!s}".replace("True", "true"))


def test_retired_flags_are_accepted_and_left_out_by_name() -> None:
    raw = {"num_scheduler_steps": 1, "max-num-seqs": 64}
    assert retired_keys("vllm", raw) == ["num_scheduler_steps"]
    assert [o.flag for o in validate_overrides("vllm", raw)] == ["max-num-seqs"]
