"""The transformers runtime: kaito.serve's transformers server on one node, Service and probes as vLLM's."""

from __future__ import annotations

from typing import Any

import pytest

from kaito.runtimes.errors import InferenceConfigError, UnsupportedRequestError
from kaito.runtimes.presets import get_preset
from kaito.runtimes.request import Adapter, WorkloadRequest
from kaito.runtimes.sizing import plan_inference
from kaito.runtimes.skus import get_gpu_config
from kaito.runtimes.transformers import TransformersRuntime, transformers_args

WS = WorkloadRequest(workspace="ws", runtime="transformers")


def _plan(preset: str, sku: str) -> Any:
    return plan_inference(get_preset(preset), get_gpu_config(sku))


def test_command_line() -> None:
    plan = _plan("phi-3-mini-4k-instruct", "Standard_NC6s_v3")
    assert transformers_args(WS, get_preset("phi-3-mini-4k-instruct"), plan) == [
        "--model", "/workspace/vllm/weights",
        "--served-model-name", "phi-3-mini-4k-instruct",
        "--host", "0.0.0.0",
        "--port", "5000",
        "--dtype", "float16",
    ]  # fmt: skip


def test_user_overrides_apply_last() -> None:
    request = WS.model_copy(update={"transformers_config": {"attn-implementation": "sdpa", "dtype": None}})
    args = transformers_args(request, get_preset("phi-4"), _plan("phi-4", "Standard_NC24ads_A100_v4"))
    assert "--dtype" not in args and args[-2:] == ["--attn-implementation", "sdpa"]
    with pytest.raises(InferenceConfigError, match=r"transformers\.port is managed by kaito"):
        transformers_args(
            WS.model_copy(update={"transformers_config": {"port": 1}}),
            get_preset("phi-4"),
            _plan("phi-4", "Standard_NC24ads_A100_v4"),
        )


@pytest.mark.parametrize(
    ("preset", "sku", "update", "message"),
    [
        (
            "llama-3.3-70b-instruct",
            "Standard_NC48ads_A100_v4",
            {"model_access_secret": "s"},
            "serves one node",
        ),
        ("phi-4", "Standard_NC24ads_A100_v4", {"adapters": (Adapter(name="a", image="a"),)}, "LoRA adapters"),
    ],
)
def test_refuses_what_it_cannot_do(preset: str, sku: str, update: dict[str, Any], message: str) -> None:
    with pytest.raises(UnsupportedRequestError, match=message):
        TransformersRuntime().build(
            WS.model_copy(update=update), get_preset(preset), get_gpu_config(sku), _plan(preset, sku)
        )


def test_workload_is_a_deployment_with_health_probes_and_gpus() -> None:
    preset, gpu = get_preset("llama-3.1-8b-instruct"), get_gpu_config("Standard_NC48ads_A100_v4")
    request = WS.model_copy(update={"model_access_secret": "hf"})
    workload = TransformersRuntime().build(request, preset, gpu, plan_inference(preset, gpu))
    (container,) = workload.pod_template["spec"]["containers"]
    assert workload.kind == "Deployment" and workload.runtime == "transformers"
    assert container["command"] == ["python3", "-m", "kaito.serve", "transformers"]
    assert container["args"][:2] == ["--model", "meta-llama/Llama-3.1-8B-Instruct"]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["env"][0]["name"] == "HF_TOKEN"
    assert workload.command == ["python3", "-m", "kaito.serve", "transformers", *container["args"]]


def test_the_inference_configmap_is_mounted_and_handed_to_the_server() -> None:
    preset, gpu = get_preset("phi-4"), get_gpu_config("Standard_NC24ads_A100_v4")
    request = WS.model_copy(update={"config_map": "ws-inference-config"})
    workload = TransformersRuntime().build(request, preset, gpu, plan_inference(preset, gpu))
    spec = workload.pod_template["spec"]
    (container,) = spec["containers"]
    assert container["command"][-2:] == ["--kaito-config-file", "/mnt/config/inference_config.yaml"]
    assert {"name": "config", "mountPath": "/mnt/config", "readOnly": True} in container["volumeMounts"]
    assert {"name": "config", "configMap": {"name": "ws-inference-config"}} in spec["volumes"]
