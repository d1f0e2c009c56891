"""The tuning Job as KAITO v0.12 runs it: golden specs for the seed's QLoRA example and a volume-to-volume
LoRA run; input by URLs, image or volume; output pushed as an image or written to a volume; the outcome."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito.api import Workspace
from kaito.controllers.tuning import (
    TUNING_IMAGE,
    TrainingConfigRef,
    job_outcome,
    pod_failure_details,
    render_tuning_job,
    training_configmap,
)
from kaito.controllers.tuning_config import DEFAULT_TRAINING_CONFIGS
from kaito.runtimes import get_gpu_config, get_preset

GOLDEN = Path(__file__).parent / "golden"
URL = "https://huggingface.co/datasets/x/resolve/main/train.parquet?download=true"
SKU = "Standard_NC24ads_A100_v4"
CONFIG = TrainingConfigRef("tune-tuning-config", "/mnt/results")


def workspace(
    input_: dict[str, Any], output: dict[str, Any], preset: str = "phi-3-mini-4k-instruct", **tuning: Any
) -> Workspace:
    return Workspace.model_validate(
        {
            "metadata": {"name": "tune", "namespace": "default"},
            "resource": {"instanceType": SKU, "labelSelector": {"matchLabels": {"a": "b"}}},
            "tuning": {
                "preset": {"name": preset},
                "method": "qlora",
                "input": input_,
                "output": output,
                **tuning,
            },
        }
    )


def job(
    input_: dict[str, Any],
    output: dict[str, Any],
    preset: str = "phi-3-mini-4k-instruct",
    config: TrainingConfigRef = CONFIG,
    **tuning: Any,
) -> dict[str, Any]:
    ws = workspace(input_, output, preset, **tuning)
    return render_tuning_job(ws, get_preset(preset), get_gpu_config(SKU), "n0", config)


def pod_of(rendered: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = rendered["spec"]["template"]["spec"]
    return spec


PUSH = {"image": "myregistry.azurecr.io/out:1", "imagePushSecret": "push"}
VOLUME = {"volumeSource": {"persistentVolumeClaim": {"claimName": "out"}}}


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (the shell scripts) as literal blocks, so the golden file reads as shell."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_BlockDumper.add_representer(str, _str)


@pytest.mark.parametrize(
    ("filename", "input_", "output"),
    [
        ("tuning_qlora_urls_to_image.yaml", {"urls": [URL]}, PUSH),
        (
            "tuning_volume_to_volume.yaml",
            {"volumeSource": {"persistentVolumeClaim": {"claimName": "data"}}},
            VOLUME,
        ),
    ],
)
def test_golden_job(filename: str, input_: dict[str, Any], output: dict[str, Any]) -> None:
    rendered = yaml.dump(job(input_, output), Dumper=_BlockDumper, sort_keys=True, width=100)
    path = GOLDEN / filename
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to create it"
    assert rendered == path.read_text(encoding="utf-8")


def test_the_trainer_runs_kaitos_command_in_the_base_image_reading_the_mounted_config() -> None:
    pod = pod_of(job({"urls": [URL]}, VOLUME))
    trainer = pod["containers"][0]
    assert trainer["name"] == "tune"
    assert trainer["image"] == TUNING_IMAGE
    shell = trainer["command"][2]
    assert shell.startswith(
        "cd /workspace/tfs/ && python3 metrics_server.py & "
        "accelerate launch --num_processes=1 /workspace/tfs/fine_tuning.py"
    )
    mounts = {m["mountPath"]: m["name"] for m in trainer["volumeMounts"]}
    assert mounts["/mnt/config"] == "config-volume"
    assert mounts["/mnt/results"] == "results-volume"
    assert mounts["/mnt/data"] == "data-volume"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config-volume"]["configMap"] == {"name": "tune-tuning-config"}
    assert {
        "name": "DEFAULT_TARGET_MODULES",
        "value": "k_proj,q_proj,v_proj,o_proj,gate_proj,down_proj,up_proj",
    } in trainer["env"]


def test_the_weights_artifact_is_pulled_with_oras_before_training() -> None:
    pod = pod_of(job({"urls": [URL]}, VOLUME))
    weights, downloader = pod["initContainers"]
    assert weights["name"] == "model-weights-downloader"
    assert weights["command"] == [
        "oras",
        "pull",
        "mcr.microsoft.com/aks/kaito/kaito-phi-3-mini-4k-instruct:0.2.0",
        "-o",
        "/workspace/weights",
    ]
    assert downloader["name"] == "data-downloader"


def test_a_user_config_naming_another_output_dir_moves_the_results_volume() -> None:
    pod = pod_of(job({"urls": [URL]}, VOLUME, config=TrainingConfigRef("mine", "/mnt/out/adapter")))
    trainer = pod["containers"][0]
    assert {"name": "results-volume", "mountPath": "/mnt/out/adapter"} in trainer["volumeMounts"]
    assert '"/mnt/out/adapter/fine_tuning_failed.txt"' in trainer["command"][2]
    assert next(v for v in pod["volumes"] if v["name"] == "config-volume")["configMap"] == {"name": "mine"}


def test_urls_are_downloaded_by_an_init_container_through_the_environment() -> None:
    pod = pod_of(job({"urls": [URL]}, PUSH))
    init = pod["initContainers"][-1]
    assert init["name"] == "data-downloader"
    assert {"name": "DATA_URLS", "value": URL} in init["env"]
    assert URL not in " ".join(init["command"])  # never spliced into the script


def test_an_input_image_is_pulled_with_its_pull_secrets() -> None:
    pod = pod_of(job({"image": "myregistry.azurecr.io/data:1", "imagePullSecrets": ["pull"]}, VOLUME))
    puller = pod["initContainers"][-1]
    assert puller["name"] == "puller"
    assert {"name": "INPUT_IMAGE", "value": "myregistry.azurecr.io/data:1"} in puller["env"]
    secrets = next(v for v in pod["volumes"] if v["name"] == "input-pull-secrets")
    assert secrets["projected"]["sources"][0]["secret"]["name"] == "pull"
    assert "imagePullSecrets" not in pod  # the pull secret is for skopeo, not for the puller's own image


def test_volumes_replace_the_empty_dirs() -> None:
    pod = pod_of(job({"volumeSource": {"persistentVolumeClaim": {"claimName": "data"}}}, VOLUME))
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data-volume"] == {"name": "data-volume", "persistentVolumeClaim": {"claimName": "data"}}
    assert volumes["results-volume"] == {
        "name": "results-volume",
        "persistentVolumeClaim": {"claimName": "out"},
    }
    assert [c["name"] for c in pod["initContainers"]] == ["model-weights-downloader"]
    assert [c["name"] for c in pod["containers"]] == ["tune"]


def test_an_output_image_is_pushed_with_the_push_secret() -> None:
    pod = pod_of(job({"urls": [URL]}, PUSH))
    pusher = pod["containers"][1]
    assert pusher["name"] == "pusher"
    assert {"name": "OUTPUT_IMAGE", "value": "myregistry.azurecr.io/out:1"} in pusher["env"]
    assert {"name": "RESULTS_DIR", "value": "/mnt/results"} in pusher["env"]
    secret = next(v for v in pod["volumes"] if v["name"] == "docker-config")
    assert secret["projected"]["sources"][0]["secret"]["name"] == "push"
    assert pod["imagePullSecrets"] == [{"name": "push"}]
    assert pod["shareProcessNamespace"] is True


def test_the_trainer_holds_every_gpu_of_the_node_and_never_retries() -> None:
    rendered = job({"urls": [URL]}, VOLUME)
    assert rendered["spec"]["backoffLimit"] == 0
    pod = pod_of(rendered)
    trainer = pod["containers"][0]
    assert trainer["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert trainer["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert pod["restartPolicy"] == "Never"
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert terms[0]["matchFields"][0]["values"] == ["n0"]


def test_a_test_preset_runs_kaitos_own_trainer_in_its_image_without_downloads() -> None:
    pod = pod_of(job({"volumeSource": {"hostPath": {"path": "/d"}}}, VOLUME, preset="tiny-llama-test"))
    trainer = pod["containers"][0]
    assert trainer["image"] == get_preset("tiny-llama-test").image
    assert trainer["command"] == [
        "python3",
        "-m",
        "kaito.tune",
        "--config=/mnt/config/training_config.yaml",
        "--data-dir=/mnt/data",
        "--output-dir=/mnt/results",
        "--model=/workspace/vllm/weights",  # where the test image holds the tiny model
    ]
    assert "initContainers" not in pod


def test_the_default_config_copy_holds_the_methods_default() -> None:
    ws = workspace({"urls": [URL]}, VOLUME)
    configmap = training_configmap(ws, DEFAULT_TRAINING_CONFIGS["qlora"])
    assert configmap["metadata"]["name"] == "tune-tuning-config"
    assert "load_in_4bit: true" in configmap["data"]["training_config.yaml"]


@pytest.mark.parametrize(
    ("status", "state", "reason"),
    [
        ({}, "pending", "JobPending"),
        ({"active": 1}, "running", "JobRunning"),
        ({"conditions": [{"type": "Complete", "status": "True"}]}, "succeeded", "JobSucceeded"),
        (
            {
                "conditions": [
                    {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "m"}
                ]
            },
            "failed",
            "BackoffLimitExceeded",
        ),
        ({"conditions": [{"type": "Failed", "status": "False"}], "active": 1}, "running", "JobRunning"),
    ],
)
def test_job_outcome(status: dict[str, Any], state: str, reason: str) -> None:
    outcome = job_outcome({"metadata": {"name": "tune-tuning"}, "status": status})
    assert (outcome.state, outcome.reason) == (state, reason)
    assert "tune-tuning" in outcome.message


def test_the_trainers_own_termination_message_is_quoted() -> None:
    pod = {
        "status": {
            "containerStatuses": [
                {
                    "name": "tune",
                    "state": {
                        "terminated": {
                            "exitCode": 1,
                            "reason": "Error",
                            "message": "loading data\nValueError: no dataset file under /mnt/data\n",
                        }
                    },
                },
                {"name": "pusher", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            ]
        }
    }
    assert pod_failure_details([pod]) == [
        "container tune: Error, exit code 1: loading data | ValueError: no dataset file under /mnt/data"
    ]
