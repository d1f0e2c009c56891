"""The inference ConfigMap merged over the server's command line, and adapters found on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kaito.serve.flags import adapter_modules, flag_value, merge_flags, read_config

BASE = ["--model", "/w", "--max-model-len", "4096", "--enable-lora", "--lora-modules", "a=/mnt/adapter/a"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, BASE),
        ({"max-model-len": 2048}, ["--model", "/w", "--max-model-len", "2048", *BASE[4:]]),
        ({"max_model_len": None}, ["--model", "/w", *BASE[4:]]),
        ({"enable-lora": False}, ["--model", "/w", "--max-model-len", "4096", "--lora-modules", BASE[-1]]),
        ({"enable-prefix-caching": True}, [*BASE, "--enable-prefix-caching"]),
        ({"gpu-memory-utilization": 0.9}, [*BASE, "--gpu-memory-utilization", "0.9"]),
        ({"kv-transfer-config": {"a": 1}}, [*BASE, "--kv-transfer-config", '{"a":1}']),
        ({"lora-modules": ["b=/b", "c=/c"]}, [*BASE[:-1], "b=/b", "c=/c"]),
    ],
)
def test_config_keys_set_replace_or_remove_flags(overrides: dict[str, Any], expected: list[str]) -> None:
    assert merge_flags(BASE, overrides) == expected


def test_merging_what_the_operator_already_applied_changes_nothing() -> None:
    once = merge_flags(BASE, {"max-model-len": 1024, "enforce-eager": True})
    assert merge_flags(once, {"max-model-len": 1024, "enforce-eager": True}) == once
    assert flag_value(once, "max-model-len") == "1024" and flag_value(once, "enforce-eager") is None


def test_read_config_takes_the_runtimes_section(tmp_path: Path) -> None:
    config = tmp_path / "inference_config.yaml"
    assert read_config(config, "vllm") == {}  # no file: the command line alone
    config.write_text("vllm:\n  max-model-len: 1024\ntransformers: {}\n")
    assert read_config(config, "vllm") == {"max-model-len": 1024}
    assert read_config(config, "transformers") == {}
    config.write_text("vllm: [1]\n")
    with pytest.raises(ValueError, match="vllm must be a mapping"):
        read_config(config, "vllm")


def test_adapters_on_disk_not_on_the_command_line_are_found(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "adapter_config.json").write_text("{}")
    (tmp_path / "not-an-adapter").mkdir()
    assert adapter_modules(tmp_path, BASE) == [f"b={tmp_path / 'b'}"]
    assert adapter_modules(tmp_path / "missing", []) == []
