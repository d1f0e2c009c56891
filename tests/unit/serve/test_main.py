"""`python -m kaito.serve`: the runtime argument, kaito's own options, and what the server is given."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kaito.serve.main import main, server_argv


def test_own_options_are_taken_out_and_the_config_file_merged(tmp_path: Path) -> None:
    config = tmp_path / "inference_config.yaml"
    config.write_text("vllm:\n  max-model-len: 1024\n  enforce-eager: true\n")
    argv = ["--kaito-config-file", str(config), "--model", "/w", "--max-model-len", "4096"]
    assert server_argv("vllm", argv) == ["--model", "/w", "--max-model-len", "1024", "--enforce-eager"]
    assert server_argv("transformers", [f"--kaito-config-file={config}", "--model", "/w"]) == [
        "--model",
        "/w",
    ]


def test_adapters_in_the_adapter_directory_become_lora_modules(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "adapter_config.json").write_text("{}")
    argv = server_argv("vllm", ["--kaito-adapters-dir", str(tmp_path), "--model", "/w", "--port", "5000"])
    assert argv == [
        "--model",
        "/w",
        "--port",
        "5000",
        "--enable-lora",
        "--lora-modules",
        f"mine={tmp_path}/mine",
    ]
    listed = ["--kaito-adapters-dir", str(tmp_path), "--lora-modules", "x=/x", "--port", "1"]
    assert server_argv("vllm", listed) == [
        "--lora-modules",
        "x=/x",
        f"mine={tmp_path}/mine",
        "--port",
        "1",
        "--enable-lora",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [([], "got nothing"), (["tgi"], "got 'tgi'"), (["vllm", "--kaito-config-file"], "needs a value")],
)
def test_a_wrong_command_line_exits_2_saying_why(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_importing_kaito_serve_pulls_in_no_other_part_of_kaito_nor_an_engine() -> None:
    code = (
        "import sys, kaito.serve; "
        "print(' '.join(m for m in sys.modules if m.startswith(('kaito', 'torch', 'vllm', 'fastapi'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    own = {"kaito", *(f"kaito.serve{m}" for m in ("", ".flags", ".main", ".openai", ".prompt"))}
    assert set(out.split()) <= own
