"""The vLLM runtime: the OpenAI-compatible vLLM server, sized by the plan, shaped by the user's overrides.

Command line, in this order (the operator's flags; the user's `vllm:` overrides are applied last and
replace or remove a flag of the same name, see kaito.runtimes.config). kaito.serve (the program in the
pod) builds vLLM's OpenAI server in-process from these flags and adds KAITO's prompt API `/chat`:

    python3 -m kaito.serve vllm [--kaito-config-file /mnt/config/inference_config.yaml]
      [--kaito-adapters-dir /mnt/adapter]
      --model <weights dir or HF repo> --served-model-name <preset>
      --tensor-parallel-size T --pipeline-parallel-size P [--data-parallel-size D]
      --gpu-memory-utilization U --max-model-len L --dtype D
      [--tool-call-parser X --enable-auto-tool-choice] [--reasoning-parser X] [--chat-template F]
      [preset flags, e.g. --tokenizer-mode mistral]
      [--enable-lora --lora-modules a=/mnt/adapter/a ... --max-loras N]
      [--distributed-executor-backend ray] --port 5000

Single node: a Deployment of `plan.replicas` pods. Multi-node: a StatefulSet of `plan.nodes` pods plus a
headless Service; pod 0 starts a Ray head, waits until every pod's Ray worker has joined, then execs vLLM
with the Ray backend; the other pods join `<ws>-0.<ws>-headless.<ns>.svc.cluster.local:6379` and block
(retrying until the head answers). Each pod learns its index from the `apps.kubernetes.io/pod-index` label.

Checks before anything is rendered (each a sentence naming the field): adapters on a model vLLM cannot
apply LoRA to, adapter strengths other than 1.0 (vLLM applies adapters at full strength), a gated model
without an access secret, overrides that are unknown, managed by kaito, ill-typed, or disagree with the
plan (a max-model-len or gpu-memory-utilization the plan was not sized for, bfloat16 on a GPU without it,
enable-lora off while adapters are attached). Parallel sizes always come from the plan, which already took
the user's where the nodes can run them (kaito.runtimes.precedence).
"""

from __future__ import annotations

import shlex
from typing import Any, ClassVar

from kaito.runtimes.base import Runtime, model_env, model_source, serving_image, weights_artifact
from kaito.runtimes.config import Args, Override, apply_overrides, render_args, validate_overrides
from kaito.runtimes.errors import InferenceConfigError, UnsupportedRequestError
from kaito.runtimes.precedence import PARALLEL_FLAGS
from kaito.runtimes.presets import Preset, RuntimeName
from kaito.runtimes.probes import exec_probes, http_probes
from kaito.runtimes.request import WorkloadRequest
from kaito.runtimes.sizing import SizingPlan
from kaito.runtimes.skus import GpuConfig
from kaito.runtimes.workload import (
    ADAPTER_MOUNT,
    MODEL_PORT,
    POD_INDEX_LABEL,
    RAY_PORT,
    SERVE_ENTRYPOINT,
    Workload,
    leader_address,
    pod_template,
    render_deployment,
    render_headless_service,
    render_service,
    render_statefulset,
    serve_options,
    serving_mounts,
)

__all__ = [
    "CHAT_TEMPLATE_DIR",
    "VLLM_ENTRYPOINT",
    "VllmRuntime",
    "multi_node_script",
    "vllm_args",
    "vllm_command",
]

VLLM_ENTRYPOINT = (*SERVE_ENTRYPOINT, "vllm")
CHAT_TEMPLATE_DIR = "/workspace/chat_templates"
_VLLM_DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")


def _check_request(request: WorkloadRequest, preset: Preset) -> None:
    if request.adapters and not preset.supports_lora:
        raise UnsupportedRequestError(
            f"{preset.name} ({preset.architecture}) cannot take LoRA adapters in vLLM; remove the "
            f"workspace's adapters ({', '.join(a.name for a in request.adapters)}) or choose another preset."
        )
    for adapter in request.adapters:
        if adapter.strength != 1.0:
            raise UnsupportedRequestError(
                f"Adapter {adapter.name} has strength {adapter.strength:g}; the vLLM runtime applies "
                "adapters at full strength only, so set strength to 1.0."
            )


def _check_overrides(
    overrides: list[Override], request: WorkloadRequest, preset: Preset, gpu: GpuConfig, plan: SizingPlan
) -> list[Override]:
    """Problems where the user's overrides disagree with the plan; returns the overrides still to apply."""
    problems: list[str] = []
    keep: list[Override] = []
    for override in overrides:
        where = f"vllm.{override.source_key}"
        if override.flag == "max-model-len" and override.value is not None:
            wanted = min(int(str(override.value)), preset.context_limit)
            if wanted != plan.max_model_len:
                problems.append(
                    f"{where} is {override.value} but the plan was sized for {plan.max_model_len} tokens; "
                    "size the plan with the same inference config (kaito.runtimes.config.sizing_inputs)."
                )
            continue
        if override.flag in PARALLEL_FLAGS:
            # The plan already holds the user's value where the nodes can run it
            # (kaito.runtimes.precedence.apply_parallelism), and a note says why where they cannot.
            continue
        if override.flag == "gpu-memory-utilization" and override.value is not None:
            if abs(float(str(override.value)) - plan.gpu_memory_utilization) > 1e-9:
                problems.append(
                    f"{where} is {override.value} but the plan was sized for "
                    f"{plan.gpu_memory_utilization:g}; size the plan with the same inference config "
                    "(kaito.runtimes.config.sizing_inputs)."
                )
            continue
        if override.flag == "dtype" and override.value is not None:
            if override.value not in _VLLM_DTYPES:
                problems.append(f"{where} is {override.value!r}; expected one of {', '.join(_VLLM_DTYPES)}.")
            elif override.value == "bfloat16" and not gpu.supports_bf16:
                problems.append(
                    f"{where} is bfloat16, which {gpu.gpu_model} (compute capability "
                    f"{gpu.compute_capability_str}) does not support; use float16."
                )
        if override.flag == "enable-lora" and override.remove and request.adapters:
            problems.append(
                f"{where} turns LoRA off but the workspace has adapters "
                f"({', '.join(a.name for a in request.adapters)}); remove the key or the adapters."
            )
        keep.append(override)
    if problems:
        raise InferenceConfigError(problems)
    return keep


def _operator_args(request: WorkloadRequest, preset: Preset, plan: SizingPlan) -> Args:
    args: Args = [
        ("model", model_source(preset)),
        ("served-model-name", preset.name),
        ("tensor-parallel-size", str(plan.tensor_parallel)),
        ("pipeline-parallel-size", str(plan.pipeline_parallel)),
    ]
    if plan.data_parallel > 1:
        args.append(("data-parallel-size", str(plan.data_parallel)))
    args += [
        ("gpu-memory-utilization", f"{plan.gpu_memory_utilization:g}"),
        ("max-model-len", str(plan.max_model_len)),
        # Quantized checkpoints (fp8, mxfp4...) pick their own activation dtype, as KAITO lets them.
        ("dtype", "auto" if preset.quant_method else plan.dtype),
    ]
    if preset.tool_call_parser:
        args += [("tool-call-parser", preset.tool_call_parser), ("enable-auto-tool-choice", None)]
    if preset.reasoning_parser:
        args.append(("reasoning-parser", preset.reasoning_parser))
    if preset.chat_template:
        args.append(("chat-template", f"{CHAT_TEMPLATE_DIR}/{preset.chat_template}"))
    for flag, value in sorted(preset.vllm_args.items()):
        args.append((flag, value or None))
    if request.adapters:
        modules = tuple(f"{a.name}={ADAPTER_MOUNT}/{a.name}" for a in request.adapters)
        args += [("enable-lora", None), ("lora-modules", modules), ("max-loras", str(len(modules)))]
    if plan.multi_node:
        args.append(("distributed-executor-backend", "ray"))
    args.append(("port", str(MODEL_PORT)))
    return args


def vllm_args(request: WorkloadRequest, preset: Preset, gpu: GpuConfig, plan: SizingPlan) -> list[str]:
    """vLLM server arguments: the operator's flags, then the user's validated overrides."""
    _check_request(request, preset)
    overrides = _check_overrides(validate_overrides("vllm", request.vllm_config), request, preset, gpu, plan)
    return render_args(apply_overrides(_operator_args(request, preset, plan), overrides))


def vllm_command(request: WorkloadRequest, preset: Preset, gpu: GpuConfig, plan: SizingPlan) -> list[str]:
    """Full argv of the serving process: kaito.serve's vllm runtime, its own options, vLLM's flags."""
    return [*VLLM_ENTRYPOINT, *serve_options(request), *vllm_args(request, preset, gpu, plan)]


def multi_node_script(request: WorkloadRequest, plan: SizingPlan, server: list[str]) -> str:
    """Shell run by every StatefulSet pod: Ray head + vLLM on pod 0, Ray workers elsewhere."""
    gpus = plan.gpus_per_node
    wait = (
        'import ray, sys; ray.init(address="auto", logging_level="ERROR"); '
        f'sys.exit(0 if sum(1 for n in ray.nodes() if n["Alive"]) >= {plan.nodes} else 1)'
    )
    return "\n".join(
        [
            'if [ "${POD_INDEX}" = "0" ]; then',
            f"  ray start --head --port={RAY_PORT} --num-gpus={gpus} --disable-usage-stats",
            f"  until python3 -c {shlex.quote(wait)}; do",
            f'    echo "waiting for {plan.nodes} Ray nodes"; sleep 5',
            "  done",
            f"  exec {shlex.join(server)}",
            "else",
            f"  until ray start --address={leader_address(request)} --num-gpus={gpus} --block; do",
            '    echo "waiting for the Ray head"; sleep 5',
            "  done",
            "fi",
        ]
    )


def _container(
    request: WorkloadRequest, preset: Preset, plan: SizingPlan, command: list[str], args: list[str]
) -> dict[str, Any]:
    env = model_env(request, preset)
    if plan.multi_node:
        pod_index = {"fieldRef": {"fieldPath": f"metadata.labels['{POD_INDEX_LABEL}']"}}
        env = [{"name": "POD_INDEX", "valueFrom": pod_index}, *env]
    mounts = serving_mounts(request)
    probes = (
        exec_probes(MODEL_PORT, preset.readiness_timeout_s)
        if plan.multi_node
        else http_probes(MODEL_PORT, preset.readiness_timeout_s)
    )
    gpus = str(plan.gpus_per_node)
    container: dict[str, Any] = {
        "name": request.workspace,
        "image": serving_image(request, preset),
        "imagePullPolicy": "IfNotPresent",
        "command": command,
    }
    if args:
        container["args"] = args
    if env:
        container["env"] = env
    container.update(
        {
            "ports": [{"name": "http", "containerPort": MODEL_PORT, "protocol": "TCP"}],
            "resources": {"requests": {request.gpu_resource: gpus}, "limits": {request.gpu_resource: gpus}},
            **probes,
            "volumeMounts": mounts,
        }
    )
    return container


class VllmRuntime(Runtime):
    """Serves presets with vLLM, on one node or across nodes with Ray."""

    name: ClassVar[RuntimeName] = "vllm"

    def server_command(
        self, request: WorkloadRequest, preset: Preset, gpu: GpuConfig, plan: SizingPlan
    ) -> list[str]:
        """argv of the vLLM server (on pod 0 when the model spans nodes)."""
        return vllm_command(request, preset, gpu, plan)

    def build(self, request: WorkloadRequest, preset: Preset, gpu: GpuConfig, plan: SizingPlan) -> Workload:
        """Deployment + Service for one node; StatefulSet + Service + headless Service across nodes."""
        server = vllm_command(request, preset, gpu, plan)
        if not plan.multi_node:
            command = [*VLLM_ENTRYPOINT, *serve_options(request)]
            container = _container(request, preset, plan, command, server[len(command) :])
            template = pod_template(request, container, weights_artifact=weights_artifact(request, preset))
            return Workload(
                runtime=self.name,
                kind="Deployment",
                command=server,
                pod_template=template,
                workload=render_deployment(request, template, plan.replicas),
                service=render_service(request, leader_only=False),
            )
        script = multi_node_script(request, plan, server)
        container = _container(request, preset, plan, ["/bin/sh", "-c", script], [])
        template = pod_template(request, container, weights_artifact=weights_artifact(request, preset))
        return Workload(
            runtime=self.name,
            kind="StatefulSet",
            command=server,
            pod_template=template,
            workload=render_statefulset(request, template, plan.nodes),
            service=render_service(request, leader_only=True),
            headless_service=render_headless_service(request),
        )
