"""Where weights come from: the preset image or a Hugging Face download with the access token."""

from __future__ import annotations

import pytest

from kaito.runtimes.base import model_env, model_source, serving_image, weights_artifact
from kaito.runtimes.errors import UnsupportedRequestError
from kaito.runtimes.presets import BASE_IMAGE, get_preset
from kaito.runtimes.request import WorkloadRequest


def test_hosted_preset_runs_the_base_image_and_pulls_its_weights_artifact() -> None:
    preset = get_preset("phi-4")
    request = WorkloadRequest(workspace="ws")
    assert model_source(preset) == "/workspace/vllm/weights"
    assert serving_image(request, preset) == "mcr.microsoft.com/aks/kaito/kaito-base:0.5.0"
    assert weights_artifact(request, preset) == "mcr.microsoft.com/aks/kaito/kaito-phi-4:0.2.0"
    assert model_env(request, preset) == []


def test_downloaded_preset_and_image_override_pull_no_artifact() -> None:
    assert weights_artifact(WorkloadRequest(workspace="ws"), get_preset("gpt-oss-120b")) is None
    assert weights_artifact(WorkloadRequest(workspace="ws", image="mine:1"), get_preset("phi-4")) is None


def test_gated_preset_downloads_with_the_token_from_the_secret() -> None:
    preset = get_preset("gemma-3-27b-instruct")
    request = WorkloadRequest(workspace="ws", model_access_secret="hf")
    assert model_source(preset) == "google/gemma-3-27b-it"
    assert serving_image(request, preset) == BASE_IMAGE
    assert model_env(request, preset) == [
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "HF_TOKEN"}}}
    ]
    with pytest.raises(UnsupportedRequestError, match="set the workspace's modelAccessSecret"):
        model_env(WorkloadRequest(workspace="ws"), preset)


def test_ungated_download_needs_no_secret() -> None:
    preset = get_preset("phi-4").model_copy(update={"hostable_image": False, "image_tag": None})
    assert model_env(WorkloadRequest(workspace="ws"), preset) == []


def test_image_override_wins() -> None:
    request = WorkloadRequest(workspace="ws", image="mine:1")
    assert serving_image(request, get_preset("phi-4")) == "mine:1"
