"""KAITO's base image entry points run by kaito.tune: the pod's paths made local through the runtime's map."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kaito.tune.base_image import (
    PATH_MAP_ENV,
    fine_tuning,
    fine_tuning_args,
    local_path,
    metrics_server,
    path_map,
)
from kaito.tune.config import ConfigError, parse_config

MAP = {"/mnt/results": "/pv/1", "/workspace/tfs": "/src/tfs", "/workspace/tfs/weights": "/models/tiny"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/mnt/results", "/pv/1"),
        ("/mnt/results/adapter", "/pv/1/adapter"),
        ("/mnt/results2", "/mnt/results2"),  # whole path parts only
        ("/workspace/tfs/weights/config.json", "/models/tiny/config.json"),  # the longest match wins
        ("/workspace/tfs/fine_tuning.py", "/src/tfs/fine_tuning.py"),
        ("relative/path", "relative/path"),
    ],
)
def test_local_path_replaces_the_longest_mapped_prefix(path: str, expected: str) -> None:
    assert local_path(path, MAP) == expected


@pytest.mark.parametrize(
    ("raw", "error"),
    [("{not json", "is not JSON"), ('["/a"]', "JSON object of path -> path"), ('{"/a": 1}', "path -> path")],
)
def test_a_bad_path_map_is_a_sentence_naming_the_variable(raw: str, error: str) -> None:
    with pytest.raises(ConfigError, match=f"KAITO_SIM_PATH_MAP.*{error}"):
        path_map({PATH_MAP_ENV: raw})


def test_without_a_path_map_paths_are_used_as_in_a_container() -> None:
    config = parse_config("training_config:\n  TrainingArguments: {output_dir: /mnt/out}\n")
    assert fine_tuning_args("/mnt/config/training_config.yaml", config, {}) == [
        "--config=/mnt/config/training_config.yaml",
        "--data-dir=/mnt/data",
        "--output-dir=/mnt/out",
        "--model=/workspace/tfs/weights",
    ]


def test_every_path_of_the_contract_is_made_local() -> None:
    config = parse_config("training_config:\n  TrainingArguments: {output_dir: /mnt/results}\n")
    env = {
        PATH_MAP_ENV: json.dumps({**MAP, "/mnt/config": "/pod/config", "/mnt/data": "/pod/data"}),
        "DATASET_FOLDER_PATH": "/mnt/data/train",
    }
    assert fine_tuning_args("/mnt/config/training_config.yaml", config, env) == [
        "--config=/pod/config/training_config.yaml",
        "--data-dir=/pod/data/train",
        "--output-dir=/pv/1",
        "--model=/models/tiny",
    ]


def test_a_bad_config_is_reported_by_kaito_tune(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "training_config.yaml").write_text("training_config:\n  TrainingArguments: {max_steps: x}\n")
    env = {PATH_MAP_ENV: json.dumps({"/mnt/config": str(tmp_path)})}
    assert fine_tuning(env) == 1
    assert "TrainingArguments.max_steps is 'x'; write a whole number" in caplog.text


def test_the_error_sentence_goes_to_the_mapped_termination_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAITO_TUNE_TERMINATION_LOG", "")  # restored after the test, then unset for it
    monkeypatch.delenv("KAITO_TUNE_TERMINATION_LOG")
    (tmp_path / "training_config.yaml").write_text("training_config:\n  TrainingArguments: {max_steps: y}\n")
    log = tmp_path / "termination"
    log.write_text("")
    env = {PATH_MAP_ENV: json.dumps({"/mnt/config": str(tmp_path), "/dev/termination-log": str(log)})}
    assert fine_tuning(env) == 1
    assert log.read_text().startswith("TrainingArguments.max_steps is 'y'")


def test_a_bad_path_map_fails_the_trainer(capsys: pytest.CaptureFixture[str]) -> None:
    assert fine_tuning({PATH_MAP_ENV: "nope"}) == 1
    assert "KAITO_SIM_PATH_MAP is not JSON" in capsys.readouterr().err


def test_the_metrics_server_says_where_the_gauges_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "training_config.yaml").write_text(
        "training_config:\n  TrainingArguments: {output_dir: /mnt/results}\n"
    )
    env = {PATH_MAP_ENV: json.dumps({"/mnt/config": str(tmp_path), "/mnt/results": "/pv/9"})}
    assert metrics_server(env) == 0
    assert "/pv/9/training_metrics.prom" in capsys.readouterr().out


def test_the_tfs_scripts_run_the_entry_points(tmp_path: Path) -> None:
    """KAITO's shell line runs the scripts by path (`accelerate launch /workspace/tfs/fine_tuning.py`)."""
    tfs = Path(__file__).resolve().parents[3] / "src" / "kaito" / "tune" / "tfs"
    env = {PATH_MAP_ENV: json.dumps({"/mnt/config": str(tmp_path)}), "PATH": "/usr/bin:/bin"}
    src = str(tfs.parents[2])
    done = subprocess.run(
        [sys.executable, str(tfs / "fine_tuning.py")],
        env={**env, "PYTHONPATH": src},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "training_config.yaml" in done.stderr  # kaito.tune names the missing config file
