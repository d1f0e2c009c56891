"""The Hugging Face transformers runtime: kaito.serve's transformers server for one node.

For presets vLLM cannot serve, or when a workspace asks for it (annotation `kaito.sh/runtime:
transformers`). The server (transformers + torch, kaito.serve.transformers_server) answers KAITO's prompt
API `/chat`, the OpenAI `/v1/chat/completions` and `/v1/models`, `/metrics`, and GET /health like vLLM, so
Services and probes are identical. Command line:

    python3 -m kaito.serve transformers [--kaito-config-file /mnt/config/inference_config.yaml]
      --model <weights dir or HF repo> --served-model-name <preset> --host 0.0.0.0 --port 5000 --dtype D

The model sits on the node's first GPU (or the CPU); there is no tensor parallelism, no multi-node serving
and no LoRA adapter loading, so plans spanning nodes and workspaces with adapters are refused with a
sentence saying what to change. The user's `transformers:` overrides are validated and applied last.
"""

from __future__ import annotations

from typing import ClassVar

from kaito.runtimes.base import Runtime, model_env, model_source, serving_image, weights_artifact
from kaito.runtimes.config import Args, apply_overrides, render_args, validate_overrides
from kaito.runtimes.errors import UnsupportedRequestError
from kaito.runtimes.presets import Preset, RuntimeName
from kaito.runtimes.probes import http_probes
from kaito.runtimes.request import WorkloadRequest
from kaito.runtimes.sizing import SizingPlan
from kaito.runtimes.skus import GpuConfig
from kaito.runtimes.workload import (
    MODEL_PORT,
    SERVE_ENTRYPOINT,
    Workload,
    pod_template,
    render_deployment,
    render_service,
    serve_options,
    serving_mounts,
)

__all__ = ["TRANSFORMERS_ENTRYPOINT", "TransformersRuntime", "transformers_args"]

TRANSFORMERS_ENTRYPOINT = (*SERVE_ENTRYPOINT, "transformers")


def transformers_args(request: WorkloadRequest, preset: Preset, plan: SizingPlan) -> list[str]:
    """kaito.serve's transformers server flags: the operator's, then the user's validated overrides."""
    if plan.multi_node:
        raise UnsupportedRequestError(
            f"The transformers runtime serves one node, but {preset.name} needs {plan.nodes} nodes of "
            f"{plan.instance_type}; use the vllm runtime or an instance type that holds the model on one "
            "node."
        )
    if request.adapters:
        raise UnsupportedRequestError(
            "The transformers runtime does not load LoRA adapters; use the vllm runtime or remove the "
            f"workspace's adapters ({', '.join(a.name for a in request.adapters)})."
        )
    args: Args = [
        ("model", model_source(preset)),
        ("served-model-name", preset.name),
        ("host", "0.0.0.0"),
        ("port", str(MODEL_PORT)),
        ("dtype", plan.dtype),
    ]
    overrides = validate_overrides("transformers", request.transformers_config)
    return render_args(apply_overrides(args, overrides))


class TransformersRuntime(Runtime):
    """Serves a preset with kaito.serve's transformers server on a single node."""

    name: ClassVar[RuntimeName] = "transformers"

    def server_command(
        self, request: WorkloadRequest, preset: Preset, gpu: GpuConfig, plan: SizingPlan
    ) -> list[str]:
        """argv of the serving process."""
        return [*TRANSFORMERS_ENTRYPOINT, *serve_options(request), *transformers_args(request, preset, plan)]

    def build(self, request: WorkloadRequest, preset: Preset, gpu: GpuConfig, plan: SizingPlan) -> Workload:
        """A Deployment of `plan.replicas` single-node servers and the Service in front of them."""
        args = transformers_args(request, preset, plan)
        gpus = str(plan.gpus_per_node)
        env = model_env(request, preset)
        container = {
            "name": request.workspace,
            "image": serving_image(request, preset),
            "imagePullPolicy": "IfNotPresent",
            "command": [*TRANSFORMERS_ENTRYPOINT, *serve_options(request)],
            "args": args,
            **({"env": env} if env else {}),
            "ports": [{"name": "http", "containerPort": MODEL_PORT, "protocol": "TCP"}],
            "resources": {"requests": {request.gpu_resource: gpus}, "limits": {request.gpu_resource: gpus}},
            **http_probes(MODEL_PORT, preset.readiness_timeout_s),
            "volumeMounts": serving_mounts(request),
        }
        template = pod_template(request, container, weights_artifact=weights_artifact(request, preset))
        return Workload(
            runtime=self.name,
            kind="Deployment",
            command=[*TRANSFORMERS_ENTRYPOINT, *serve_options(request), *args],
            pod_template=template,
            workload=render_deployment(request, template, plan.replicas),
            service=render_service(request, leader_only=False),
        )
