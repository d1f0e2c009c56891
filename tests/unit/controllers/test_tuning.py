"""The tuning Job: input by URLs, image or volume; output pushed as an image or written to a volume."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.api import Workspace
from kaito.controllers.tuning import job_outcome, render_tuning_job
from kaito.runtimes import get_gpu_config, get_preset

URL = "https://huggingface.co/datasets/x/resolve/main/train.parquet?download=true"


def job(input_: dict[str, Any], output: dict[str, Any], **tuning: Any) -> dict[str, Any]:
    ws = Workspace.model_validate(
        {
            "metadata": {"name": "tune", "namespace": "default"},
            "resource": {
                "instanceType": "Standard_NC24ads_A100_v4",
                "labelSelector": {"matchLabels": {"a": "b"}},
            },
            "tuning": {
                "preset": {"name": "phi-3-mini-4k-instruct"},
                "method": "qlora",
                "input": input_,
                "output": output,
                **tuning,
            },
        }
    )
    return render_tuning_job(
        ws, get_preset("phi-3-mini-4k-instruct"), get_gpu_config("Standard_NC24ads_A100_v4"), "n0"
    )


PUSH = {"image": "myregistry.azurecr.io/out:1", "imagePushSecret": "push"}
VOLUME = {"volumeSource": {"persistentVolumeClaim": {"claimName": "out"}}}


def test_urls_are_downloaded_by_an_init_container_through_the_environment() -> None:
    pod = job({"urls": [URL]}, PUSH)["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["name"] == "data-downloader"
    assert init["env"] == [{"name": "DATA_URLS", "value": URL}]
    assert URL not in " ".join(init["command"])  # never spliced into the script


def test_an_input_image_is_copied_and_its_pull_secrets_used() -> None:
    pod = job({"image": "myregistry.azurecr.io/data:1", "imagePullSecrets": ["pull"]}, PUSH)["spec"][
        "template"
    ]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["data-copier"]
    assert pod["initContainers"][0]["image"] == "myregistry.azurecr.io/data:1"
    assert pod["imagePullSecrets"] == [{"name": "pull"}]


def test_volumes_replace_the_empty_dirs() -> None:
    pod = job({"volumeSource": {"persistentVolumeClaim": {"claimName": "data"}}}, VOLUME)["spec"]["template"][
        "spec"
    ]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"] == {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}
    assert volumes["output"] == {"name": "output", "persistentVolumeClaim": {"claimName": "out"}}
    assert "initContainers" not in pod
    assert [c["name"] for c in pod["containers"]] == ["tuning"]


def test_an_output_image_is_pushed_with_the_push_secret() -> None:
    pod = job({"urls": [URL]}, PUSH)["spec"]["template"]["spec"]
    pusher = pod["containers"][1]
    assert pusher["name"] == "output-pusher"
    assert {"name": "OUTPUT_IMAGE", "value": "myregistry.azurecr.io/out:1"} in pusher["env"]
    secret = next(v for v in pod["volumes"] if v["name"] == "push-secret")
    assert secret["secret"]["secretName"] == "push"


def test_the_trainer_holds_every_gpu_of_the_node_and_never_retries() -> None:
    rendered = job({"urls": [URL]}, VOLUME, config="my-tuning")
    assert rendered["spec"]["backoffLimit"] == 0
    pod = rendered["spec"]["template"]["spec"]
    trainer = pod["containers"][0]
    assert trainer["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert "--method=qlora" in trainer["args"]
    assert "--config=/mnt/config/training_config.yaml" in trainer["args"]
    assert pod["restartPolicy"] == "Never"
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert terms[0]["matchFields"][0]["values"] == ["n0"]


@pytest.mark.parametrize(
    ("status", "state", "reason"),
    [
        ({}, "running", "JobRunning"),
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
