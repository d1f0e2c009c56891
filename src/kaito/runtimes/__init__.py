"""kaito.runtimes: what to run and how big — pure functions, no I/O beyond reading packaged data.

Modules, one job each:

* presets     the preset catalog (data/presets.yaml) and lookup with "did you mean"
* skus        the GPU instance-type catalog (data/skus.yaml) and BYO node labels -> GpuConfig
* hf_preset   a preset for any Hugging Face model id, from its config.json and weight size (pure)
* resource_skus  an unlisted Standard_N* size from an ARM resource-SKUs entry (GPU count; sibling's GPU)
* sizing      plan_inference: nodes, parallelism, utilization, max-model-len, dtype, memory per GPU;
              kaito_estimate reproduces KAITO's estimator for comparison
* request     WorkloadRequest: the workspace facts a runtime needs (no kaito.api types)
* config      inference_config.yaml: parse, validate (unknown / conflicting keys by name), apply overrides
* partitions  the shape a MIG slice or a whole-GPU share presents to sizing, and its pod resource
* precedence  the user's tensor/pipeline/data-parallel sizes against the plan (KAITO's precedence, noted)
* probes      /health probes with start-up time derived from model size
* workload    shared Kubernetes rendering: pod template, Deployment, StatefulSet, Services
* base        the Runtime interface; vllm and transformers implement it; runtime selects one
* errors      the exception hierarchy

Every public name is re-exported here and loaded on first use: `kaito plan` imports only the modules it needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see; at run time each name loads from its module on first use
    from kaito.runtimes.base import *  # noqa: F403
    from kaito.runtimes.config import *  # noqa: F403
    from kaito.runtimes.errors import *  # noqa: F403
    from kaito.runtimes.hf_preset import *  # noqa: F403
    from kaito.runtimes.partitions import *  # noqa: F403
    from kaito.runtimes.precedence import *  # noqa: F403
    from kaito.runtimes.presets import *  # noqa: F403
    from kaito.runtimes.probes import *  # noqa: F403
    from kaito.runtimes.request import *  # noqa: F403
    from kaito.runtimes.resource_skus import *  # noqa: F403
    from kaito.runtimes.runtime import *  # noqa: F403
    from kaito.runtimes.sizing import *  # noqa: F403
    from kaito.runtimes.skus import *  # noqa: F403
    from kaito.runtimes.transformers import *  # noqa: F403
    from kaito.runtimes.vllm import *  # noqa: F403
    from kaito.runtimes.workload import *  # noqa: F403

# Each public name and the module that defines it (its module's `__all__` is the source of truth; a test
# checks the two agree). `import kaito.runtimes` loads none of them; `kaito.runtimes.Name` loads one module.
_EXPORTS = {
    "ADAPTER_MOUNT": "workload",
    "Adapter": "request",
    "Args": "config",
    "BASE_IMAGE": "presets",
    "CHAT_TEMPLATE_DIR": "vllm",
    "CONFIG_FILE": "workload",
    "CONFIG_MOUNT": "workload",
    "CannotSplitError": "errors",
    "Cloud": "skus",
    "DEFAULT_CONTEXT": "hf_preset",
    "DEFAULT_SIZING_TOKENS": "sizing",
    "Dtype": "presets",
    "FlagType": "config",
    "FlagValue": "config",
    "GIB": "sizing",
    "GPU_RESOURCE": "workload",
    "GPU_TOLERATIONS": "workload",
    "GpuConfig": "skus",
    "GpuTooSmallError": "errors",
    "HEADROOM_SHARE": "sizing",
    "HEALTH_PATH": "probes",
    "HF_TOKEN_KEY": "base",
    "IMAGE_REGISTRY": "presets",
    "InferenceConfig": "config",
    "InferenceConfigError": "errors",
    "KaitoEstimate": "sizing",
    "LABEL_COMPUTE_MAJOR": "skus",
    "LABEL_COMPUTE_MINOR": "skus",
    "LABEL_GPU_COUNT": "skus",
    "LABEL_GPU_MEMORY": "skus",
    "LABEL_GPU_PRODUCT": "skus",
    "MODEL_PORT": "workload",
    "MemoryBreakdown": "sizing",
    "N_SERIES_PREFIX": "resource_skus",
    "NodeLabelError": "errors",
    "NotEnoughNodesError": "errors",
    "ORAS_IMAGE": "presets",
    "OVERHEAD_GIB": "sizing",
    "Override": "config",
    "PARALLEL_FLAGS": "precedence",
    "POD_INDEX_LABEL": "workload",
    "PROBE_PERIOD_S": "probes",
    "Preset": "presets",
    "RAY_PORT": "workload",
    "RUNTIMES": "runtime",
    "Runtime": "base",
    "RuntimeName": "presets",
    "RuntimesError": "errors",
    "SERVE_ENTRYPOINT": "workload",
    "SERVICE_PORT": "workload",
    "SizingPlan": "sizing",
    "SizingRefusal": "errors",
    "TRANSFORMERS_ENTRYPOINT": "transformers",
    "TransformersRuntime": "transformers",
    "UnknownPresetError": "errors",
    "UnknownSkuError": "errors",
    "UnsizableModelError": "errors",
    "UnsupportedDtypeError": "errors",
    "UnsupportedRequestError": "errors",
    "VLLM_ENTRYPOINT": "vllm",
    "VllmRuntime": "vllm",
    "WEIGHTS_PATH": "workload",
    "WEIGHT_FACTOR": "sizing",
    "WORKSPACE_LABEL": "workload",
    "Workload": "workload",
    "WorkloadRequest": "request",
    "adapter_init_containers": "workload",
    "adapter_mounts": "workload",
    "adapter_volumes": "workload",
    "apply_overrides": "config",
    "apply_parallelism": "precedence",
    "build_workload": "runtime",
    "choose_dtype": "sizing",
    "default_gpu_memory_utilization": "sizing",
    "exec_probes": "probes",
    "flag_types": "config",
    "get_gpu_config": "skus",
    "get_preset": "presets",
    "gpu_config_from_node_labels": "skus",
    "gpu_config_from_resource_sku": "resource_skus",
    "gpu_resource": "partitions",
    "headless_service_name": "workload",
    "http_probes": "probes",
    "is_hugging_face_id": "hf_preset",
    "is_unlisted_n_series": "resource_skus",
    "kaito_estimate": "sizing",
    "leader_address": "workload",
    "list_gpu_configs": "skus",
    "list_presets": "presets",
    "load_presets": "presets",
    "managed_flags": "config",
    "memory_breakdown": "sizing",
    "min_headroom_gib": "sizing",
    "model_env": "base",
    "model_source": "base",
    "multi_node_script": "vllm",
    "node_affinity": "workload",
    "parallelism_inputs": "config",
    "parse_inference_config": "config",
    "partition_gpu": "partitions",
    "plan_inference": "sizing",
    "plan_nodes": "sizing",
    "pod_template": "workload",
    "preset_from_hf": "hf_preset",
    "render_args": "config",
    "render_deployment": "workload",
    "render_headless_service": "workload",
    "render_service": "workload",
    "render_statefulset": "workload",
    "retired_flags": "config",
    "retired_keys": "config",
    "select_runtime": "runtime",
    "selector_labels": "workload",
    "serve_options": "workload",
    "serving_image": "base",
    "serving_mounts": "workload",
    "sizing_inputs": "config",
    "smallest_single_node_sku": "sizing",
    "startup_failure_threshold": "probes",
    "tensor_parallel_valid": "sizing",
    "transformers_args": "transformers",
    "validate_overrides": "config",
    "vllm_args": "vllm",
    "vllm_command": "vllm",
    "weights_artifact": "base",
    "weights_bytes_from_index": "hf_preset",
    "weights_init_container": "workload",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562) and keep it in the package namespace."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
