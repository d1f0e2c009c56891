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
"""

from kaito.runtimes.base import *  # noqa: F403
from kaito.runtimes.base import __all__ as _base_all
from kaito.runtimes.config import *  # noqa: F403
from kaito.runtimes.config import __all__ as _config_all
from kaito.runtimes.errors import *  # noqa: F403
from kaito.runtimes.errors import __all__ as _errors_all
from kaito.runtimes.hf_preset import *  # noqa: F403
from kaito.runtimes.hf_preset import __all__ as _hf_preset_all
from kaito.runtimes.partitions import *  # noqa: F403
from kaito.runtimes.partitions import __all__ as _partitions_all
from kaito.runtimes.precedence import *  # noqa: F403
from kaito.runtimes.precedence import __all__ as _precedence_all
from kaito.runtimes.presets import *  # noqa: F403
from kaito.runtimes.presets import __all__ as _presets_all
from kaito.runtimes.probes import *  # noqa: F403
from kaito.runtimes.probes import __all__ as _probes_all
from kaito.runtimes.request import *  # noqa: F403
from kaito.runtimes.request import __all__ as _request_all
from kaito.runtimes.resource_skus import *  # noqa: F403
from kaito.runtimes.resource_skus import __all__ as _resource_skus_all
from kaito.runtimes.runtime import *  # noqa: F403
from kaito.runtimes.runtime import __all__ as _runtime_all
from kaito.runtimes.sizing import *  # noqa: F403
from kaito.runtimes.sizing import __all__ as _sizing_all
from kaito.runtimes.skus import *  # noqa: F403
from kaito.runtimes.skus import __all__ as _skus_all
from kaito.runtimes.transformers import *  # noqa: F403
from kaito.runtimes.transformers import __all__ as _transformers_all
from kaito.runtimes.vllm import *  # noqa: F403
from kaito.runtimes.vllm import __all__ as _vllm_all
from kaito.runtimes.workload import *  # noqa: F403
from kaito.runtimes.workload import __all__ as _workload_all

__all__ = sorted(
    {
        *_base_all,
        *_config_all,
        *_errors_all,
        *_hf_preset_all,
        *_partitions_all,
        *_precedence_all,
        *_presets_all,
        *_probes_all,
        *_request_all,
        *_resource_skus_all,
        *_runtime_all,
        *_sizing_all,
        *_skus_all,
        *_transformers_all,
        *_vllm_all,
        *_workload_all,
    }
)
