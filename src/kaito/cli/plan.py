"""`kaito plan`, `kaito presets`, `kaito skus`: the runtimes catalogs and sizing, from the command line.

`kaito plan --preset NAME --instance-type SKU [--max-model-len N] [--count N] [--max-nodes N]
[--inference-config FILE] [--runtime vllm|transformers] [-o table|yaml|json]` prints the sizing plan —
nodes, GPUs, parallelism, dtype, utilization, max-model-len, the memory breakdown per GPU (weights, KV
cache, overhead, headroom), what KAITO's estimator would have chosen — and the exact server command.
A refusal (unknown name, model that does not fit, bad inference config) prints its sentence on stderr and
exits 1. `kaito presets` and `kaito skus` list the catalogs as tables, or as YAML/JSON with `-o`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from kaito.runtimes.config import parallelism_inputs, parse_inference_config, sizing_inputs
from kaito.runtimes.errors import RuntimesError
from kaito.runtimes.precedence import apply_parallelism
from kaito.runtimes.presets import get_preset, list_presets
from kaito.runtimes.request import WorkloadRequest
from kaito.runtimes.runtime import select_runtime
from kaito.runtimes.sizing import SizingPlan, kaito_estimate, plan_inference
from kaito.runtimes.skus import get_gpu_config, list_gpu_configs

__all__ = ["add_parser", "format_table", "run_plan", "run_presets", "run_skus"]

_OUTPUTS = ("table", "yaml", "json")


def add_parser(subparsers: Any) -> None:
    """Register the `plan`, `presets` and `skus` subcommands."""
    plan = subparsers.add_parser(
        "plan",
        help="size a preset on an instance type and print the server command",
        description="Size a preset on an instance type: nodes, parallelism, memory per GPU, vLLM command.",
    )
    plan.add_argument("--preset", required=True, help="preset name or Hugging Face repo id")
    plan.add_argument(
        "--instance-type", required=True, help="GPU instance type, e.g. Standard_NC24ads_A100_v4"
    )
    plan.add_argument("--max-model-len", type=int, help="context length to size for (tokens)")
    plan.add_argument("--count", type=int, help="the workspace's requested node count")
    plan.add_argument("--max-nodes", type=int, help="refuse plans needing more nodes than this")
    plan.add_argument(
        "--inference-config", type=Path, help="inference_config.yaml with vllm:/transformers: flags"
    )
    plan.add_argument("--runtime", choices=("vllm", "transformers"), help="override the preset's runtime")
    plan.add_argument("-o", "--output", choices=_OUTPUTS, default="table")
    plan.set_defaults(func=run_plan)

    presets = subparsers.add_parser(
        "presets", help="list the preset catalog", description="List the presets."
    )
    presets.add_argument("-o", "--output", choices=_OUTPUTS, default="table")
    presets.add_argument(
        "--all", action="store_true", help="also list test-only presets (e.g. the tiny end-to-end test model)"
    )
    presets.set_defaults(func=run_presets)

    skus = subparsers.add_parser("skus", help="list known GPU instance types", description="List GPU SKUs.")
    skus.add_argument("-o", "--output", choices=_OUTPUTS, default="table")
    skus.set_defaults(func=run_skus)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces, like kubectl."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def _emit(data: Any, output: str) -> None:
    if output == "json":
        print(json.dumps(data, indent=2, sort_keys=False))
    else:
        print(yaml.safe_dump(data, sort_keys=False), end="")


def run_presets(args: argparse.Namespace) -> int:
    """Print the preset catalog."""
    presets = [p for p in list_presets() if args.all or not p.test_only]
    if args.output != "table":
        _emit([p.summary() for p in presets], args.output)
        return 0
    rows = [
        (
            p.name,
            p.hf_repo,
            f"{p.weights_gib:.2f}",
            p.context_limit,
            p.kv_bytes_per_token,
            p.runtime,
            "yes" if p.distributed else "no",
            "hosted" if p.hostable_image else ("download (gated)" if p.gated else "download"),
        )
        for p in presets
    ]
    headers = (
        "NAME",
        "HF REPO",
        "WEIGHTS GiB",
        "CONTEXT",
        "KV B/TOKEN",
        "RUNTIME",
        "MULTI-NODE",
        "WEIGHTS FROM",
    )
    print(format_table(headers, rows))
    return 0


def run_skus(args: argparse.Namespace) -> int:
    """Print the GPU instance-type catalog."""
    configs = list_gpu_configs()
    if args.output != "table":
        _emit([c.model_dump(mode="json") for c in configs], args.output)
        return 0
    rows = [
        (
            c.name,
            c.cloud,
            c.gpu_count,
            c.gpu_model,
            f"{c.memory_gib:g}",
            f"{c.node_memory_gib:g}",
            c.compute_capability_str,
            "yes" if c.nvme else "no",
        )
        for c in configs
    ]
    headers = ("NAME", "CLOUD", "GPUS", "GPU", "GiB/GPU", "GiB/NODE", "CC", "NVME")
    print(format_table(headers, rows))
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def run_plan(args: argparse.Namespace) -> int:
    """Size the preset and print the plan and the server command, or the refusal (exit 1)."""
    try:
        preset = get_preset(args.preset)
        gpu = get_gpu_config(args.instance_type)
        text = args.inference_config.read_text(encoding="utf-8") if args.inference_config else None
        config = parse_inference_config(text)
        config_len, utilization = sizing_inputs(config.vllm)
        if args.max_model_len is not None and config_len is not None and args.max_model_len != config_len:
            return _fail(
                f"--max-model-len {args.max_model_len} disagrees with vllm.max-model-len {config_len} in "
                f"{args.inference_config}; give one of them."
            )
        max_model_len = args.max_model_len if args.max_model_len is not None else config_len
        plan = plan_inference(
            preset,
            gpu,
            max_model_len=max_model_len,
            count=args.count,
            max_nodes=args.max_nodes,
            gpu_memory_utilization=utilization,
        )
        plan = apply_parallelism(preset, gpu, plan, parallelism_inputs(config.vllm))
        request = WorkloadRequest(
            workspace="plan",
            vllm_config=config.vllm,
            transformers_config=config.transformers,
            runtime=args.runtime,
            model_access_secret="model-access-secret" if preset.gated else None,
        )
        runtime = select_runtime(preset, request)
        command = runtime.server_command(request, preset, gpu, plan)
    except OSError as error:
        return _fail(f"cannot read --inference-config: {error.strerror or error}.")
    except (RuntimesError, ValueError) as error:
        return _fail(str(error))
    try:
        kaito: dict[str, Any] = kaito_estimate(preset, gpu, max_model_len=max_model_len).model_dump()
    except RuntimesError as error:
        kaito = {"refused": str(error)}

    if args.output != "table":
        _emit(
            {
                "plan": plan.model_dump(mode="json"),
                "totalNodes": plan.total_nodes,
                "runtime": runtime.name,
                "command": command,
                "kaitoEstimate": kaito,
            },
            args.output,
        )
        return 0
    print(_plan_text(plan, preset.hf_repo, gpu.describe(), runtime.name, kaito, command))
    return 0


def _plan_text(
    plan: SizingPlan, repo: str, gpu_text: str, runtime: str, kaito: dict[str, Any], command: list[str]
) -> str:
    m = plan.memory
    kind = "StatefulSet + Ray" if plan.multi_node else "Deployment"
    nodes = f"{plan.total_nodes} ({plan.total_nodes * plan.gpus_per_node} GPUs)"
    if plan.replicas > 1:
        nodes += f", {plan.replicas} replicas"
    lines = [
        f"Preset:                  {plan.preset} ({repo})",
        f"Instance type:           {plan.instance_type}: {gpu_text}",
        f"Runtime:                 {runtime} ({kind})",
        f"Nodes:                   {nodes}",
        f"Parallelism:             tensor {plan.tensor_parallel} x pipeline {plan.pipeline_parallel}"
        f" x data {plan.data_parallel}",
        f"dtype:                   {plan.dtype}",
        f"GPU memory utilization:  {plan.gpu_memory_utilization:g}",
        f"Max model length:        {plan.max_model_len} tokens",
        "Memory per GPU (GiB):",
        f"  weights                {m.weights_gib:8.2f}",
        f"  KV cache               {m.kv_cache_gib:8.2f}  (one {plan.max_model_len}-token sequence)",
        f"  overhead               {m.overhead_gib:8.2f}",
        f"  headroom               {m.headroom_gib:8.2f}  (more concurrent sequences)",
        f"  usable                 {m.usable_gib:8.2f}  of {m.gpu_memory_gib:g}",
    ]
    if "refused" in kaito:
        lines.append(f"KAITO's estimator:       refuses: {kaito['refused']}")
    else:
        lines.append(
            f"KAITO's estimator:       {kaito['nodes']} node(s), tensor {kaito['tensor_parallel']}"
            f" x pipeline {kaito['pipeline_parallel']} x data {kaito['data_parallel']},"
            f" max-model-len {kaito['max_model_len']}"
        )
    lines += [f"Note: {note}" for note in plan.notes]
    lines += ["Command:", f"  {shlex.join(command)}"]
    return "\n".join(lines)
