"""`kaito plan`, `kaito presets`, `kaito skus` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kaito.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_table_shows_layout_memory_kaito_and_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys, "plan", "--preset", "llama-3.3-70b-instruct", "--instance-type", "standard_nc48ads_a100_v4"
    )
    assert code == 0 and err == ""
    for line in [
        "Runtime:                 vllm (StatefulSet + Ray)",
        "Nodes:                   2 (4 GPUs)",
        "Parallelism:             tensor 2 x pipeline 2 x data 1",
        "Max model length:        131072 tokens",
        "  weights                   33.51",
        "  overhead                   2.30",
        "KAITO's estimator:       2 node(s), tensor 2 x pipeline 2 x data 1, max-model-len 102656",
    ]:
        assert line in out.splitlines()
    assert "--tensor-parallel-size 2 --pipeline-parallel-size 2" in out
    assert "--distributed-executor-backend ray" in out
    assert "KV cache" in out and "headroom" in out


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_plan_machine_readable(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, _ = _run(
        capsys, "plan", "--preset", "phi-3-mini-4k-instruct", "--instance-type", "Standard_NC6s_v3",
        "--count", "2", "-o", fmt,
    )  # fmt: skip
    data = json.loads(out) if fmt == "json" else yaml.safe_load(out)
    assert code == 0
    assert data["plan"]["dtype"] == "float16" and data["plan"]["replicas"] == 2 and data["totalNodes"] == 2
    assert data["command"][:4] == ["python3", "-m", "kaito.serve", "vllm"]
    assert data["kaitoEstimate"]["nodes"] == 1
    assert set(data["plan"]["memory"]) >= {"weights_gib", "kv_cache_gib", "overhead_gib", "headroom_gib"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--preset", "falcon-40b", "--instance-type", "Standard_NV36ads_A10_v5"],
            "cannot be split across nodes",
        ),
        (
            [
                "--preset",
                "llama-3.3-70b-instruct",
                "--instance-type",
                "Standard_NV36ads_A10_v5",
                "--max-nodes",
                "4",
            ],
            "use ≥ 9 nodes or Standard_NC80adis_H100_v5.",
        ),
        (
            ["--preset", "phi-5", "--instance-type", "Standard_NC6s_v3"],
            "Preset 'phi-5' is not in the catalog",
        ),
        (["--preset", "phi-4", "--instance-type", "Standard_NC7s_v3"], "Did you mean Standard_NC6s_v3"),
        (
            ["--preset", "gemma-3-4b-instruct", "--instance-type", "Standard_NC6s_v3"],
            "only be served in bfloat16",
        ),
        (
            ["--preset", "phi-4", "--instance-type", "Standard_NC6s_v3", "--max-model-len", "0"],
            "positive number",
        ),
    ],
)
def test_plan_refusals_exit_1_with_the_sentence_on_stderr(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = _run(capsys, "plan", *argv)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err


def test_plan_reads_the_inference_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "inference_config.yaml"
    config.write_text("vllm:\n  max-model-len: 8192\n  enable-prefix-caching: true\n", encoding="utf-8")
    code, out, _ = _run(
        capsys, "plan", "--preset", "llama-3.1-8b-instruct", "--instance-type", "Standard_NV36ads_A10_v5",
        "--inference-config", str(config), "-o", "json",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 0 and data["plan"]["max_model_len"] == 8192
    assert data["command"][-1] == "--enable-prefix-caching"


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        ("vllm:\n  port: 8000\n", [], "vllm.port is managed by kaito"),
        (
            "vllm:\n  max-model-len: 4096\n",
            ["--max-model-len", "2048"],
            "disagrees with vllm.max-model-len 4096",
        ),
    ],
)
def test_plan_reports_config_problems(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, extra: list[str], message: str
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(text, encoding="utf-8")
    code, _, err = _run(
        capsys, "plan", "--preset", "phi-4", "--instance-type", "Standard_NC24ads_A100_v4",
        "--inference-config", str(config), *extra,
    )  # fmt: skip
    assert code == 1 and message in err


def test_plan_missing_config_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(
        capsys, "plan", "--preset", "phi-4", "--instance-type", "Standard_NC24ads_A100_v4",
        "--inference-config", str(tmp_path / "absent.yaml"),
    )  # fmt: skip
    assert code == 1 and "cannot read --inference-config" in err


def test_plan_with_the_transformers_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "plan",
        "--preset",
        "phi-4",
        "--instance-type",
        "Standard_NC24ads_A100_v4",
        "--runtime",
        "transformers",
    )
    assert code == 0 and "Runtime:                 transformers (Deployment)" in out
    assert "python3 -m kaito.serve transformers --model /workspace/vllm/weights" in out


def test_plan_shows_kaitos_refusal_next_to_ours(capsys: pytest.CaptureFixture[str]) -> None:
    # 131072 tokens of phi-3 KV (48 GiB): KAITO counts it all on one A10 and refuses; we split it over nodes.
    code, out, _ = _run(
        capsys, "plan", "--preset", "phi-3-mini-128k-instruct", "--instance-type", "Standard_NV36ads_A10_v5",
        "--max-model-len", "131072",
    )  # fmt: skip
    assert code == 0
    assert "Nodes:                   4 (4 GPUs)" in out
    assert "KAITO's estimator:       refuses: GPU memory 20.16 GiB is too small" in out


def test_presets_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "presets")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["NAME", "HF", "REPO"]
    row = next(line for line in lines if line.startswith("llama-3.3-70b-instruct "))
    assert row.split()[1:5] == ["meta-llama/Llama-3.3-70B-Instruct", "131.42", "131072", "327680"]
    assert row.endswith("download (gated)")
    code, out, _ = _run(capsys, "presets", "-o", "json")
    data = json.loads(out)
    assert any(p["name"] == "phi-4" and p["kv_bytes_per_token"] == 204800 for p in data)


def test_test_only_presets_are_listed_only_with_all(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "presets")
    assert "tiny-llama-test" not in out
    _, out, _ = _run(capsys, "presets", "--all")
    assert any(line.startswith("tiny-llama-test ") for line in out.splitlines())


def test_skus_table_and_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "skus")
    row = next(line for line in out.splitlines() if line.startswith("Standard_ND96isr_H200_v5 "))
    assert code == 0 and row.split() == [
        "Standard_ND96isr_H200_v5",
        "azure",
        "8",
        "NVIDIA",
        "H200",
        "141",
        "1128",
        "9.0",
        "yes",
    ]
    code, out, _ = _run(capsys, "skus", "-o", "yaml")
    data = yaml.safe_load(out)
    assert {"name": "g6e.xlarge", "gpu_count": 1}.items() <= next(
        d for d in data if d["name"] == "g6e.xlarge"
    ).items()


def test_plan_notes_a_tensor_parallel_size_the_node_cannot_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("vllm:\n  tensor-parallel-size: 2\n", encoding="utf-8")
    code, out, _ = _run(
        capsys, "plan", "--preset", "phi-4", "--instance-type", "Standard_NC24ads_A100_v4",
        "--inference-config", str(config),
    )  # fmt: skip
    assert code == 0
    assert "Note: vllm.tensor-parallel-size is 2, but tensor parallel 2 exceeds the 1 GPU(s) per node" in out
    assert "--tensor-parallel-size 1" in out
