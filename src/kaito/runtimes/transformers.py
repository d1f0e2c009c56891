"""The Hugging Face transformers runtime: `transformers serve` (transformers[serving]) for one node.

For presets vLLM cannot serve, or when a workspace asks for it. The server is OpenAI-compatible and answers
GET /health like vLLM, so Services and probes are identical. Command line:

    transformers serve --force-model <weights dir or HF repo> --host 0.0.0.0 --port 5000
      --dtype D --continuous-batching --model-timeout 31536000

`--force-model` loads that model for every request and `--model-timeout` (a year) keeps it resident: the
server would otherwise unload it after 300 idle seconds and reload on the next request. The model spreads
over the node's GPUs with device_map="auto"; there is no tensor parallelism, no multi-node serving and no
LoRA adapter loading, so plans spanning nodes and workspaces with adapters are refused with a sentence
saying what to change. The user's `transformers:` overrides are validated and applied last.
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
    Workload,
    pod_template,
    render_deployment,
    render_service,
)

__all__ = ["TRANSFORMERS_ENTRYPOINT", "TransformersRuntime", "transformers_args"]

TRANSFORMERS_ENTRYPOINT = ("transformers", "serve")
_RESIDENT_S = 365 * 24 * 3600


def transformers_args(request: WorkloadRequest, preset: Preset, plan: SizingPlan) -> list[str]:
    """`transformers serve` arguments: the operator's flags, then the user's validated overrides."""
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
        ("force-model", model_source(preset)),
        ("host", "0.0.0.0"),
        ("port", str(MODEL_PORT)),
        ("dtype", plan.dtype),
        ("continuous-batching", None),
        ("model-timeout", str(_RESIDENT_S)),
    ]
    overrides = validate_overrides("transformers", request.transformers_config)
    return render_args(apply_overrides(args, overrides))


class TransformersRuntime(Runtime):
    """Serves a preset with `transformers serve` on a single node."""

    name: ClassVar[RuntimeName] = "transformers"

    def server_command(
        self, request: WorkloadRequest, preset: Preset, gpu: GpuConfig, plan: SizingPlan
    ) -> list[str]:
        """argv of `transformers serve`."""
        return [*TRANSFORMERS_ENTRYPOINT, *transformers_args(request, preset, plan)]

    def build(self, request: WorkloadRequest, preset: Preset, gpu: GpuConfig, plan: SizingPlan) -> Workload:
        """A Deployment of `plan.replicas` single-node servers and the Service in front of them."""
        args = transformers_args(request, preset, plan)
        gpus = str(plan.gpus_per_node)
        env = model_env(request, preset)
        container = {
            "name": request.workspace,
            "image": serving_image(request, preset),
            "imagePullPolicy": "IfNotPresent",
            "command": list(TRANSFORMERS_ENTRYPOINT),
            "args": args,
            **({"env": env} if env else {}),
            "ports": [{"name": "http", "containerPort": MODEL_PORT, "protocol": "TCP"}],
            "resources": {"requests": {request.gpu_resource: gpus}, "limits": {request.gpu_resource: gpus}},
            **http_probes(MODEL_PORT, preset.readiness_timeout_s),
            "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
        }
        template = pod_template(request, container, weights_artifact=weights_artifact(request, preset))
        return Workload(
            runtime=self.name,
            kind="Deployment",
            command=[*TRANSFORMERS_ENTRYPOINT, *args],
            pod_template=template,
            workload=render_deployment(request, template, plan.replicas),
            service=render_service(request, leader_only=False),
        )
