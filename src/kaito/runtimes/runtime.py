"""Choosing a runtime for a workspace and building its workload through it.

The preset names its runtime (`vllm` unless vLLM cannot serve the architecture); a workspace may ask for
another one (`WorkloadRequest.runtime`, KAITO's `kaito.sh/runtime` annotation). `build_workload` is the one
call the Workspace controller makes once it has a sizing plan.
"""

from __future__ import annotations

from kaito.runtimes.base import Runtime
from kaito.runtimes.presets import Preset, RuntimeName
from kaito.runtimes.request import WorkloadRequest
from kaito.runtimes.sizing import SizingPlan
from kaito.runtimes.skus import GpuConfig
from kaito.runtimes.transformers import TransformersRuntime
from kaito.runtimes.vllm import VllmRuntime
from kaito.runtimes.workload import Workload

__all__ = ["RUNTIMES", "build_workload", "select_runtime"]

RUNTIMES: dict[RuntimeName, Runtime] = {"vllm": VllmRuntime(), "transformers": TransformersRuntime()}


def select_runtime(preset: Preset, request: WorkloadRequest | None = None) -> Runtime:
    """The workspace's requested runtime, else the preset's."""
    name = request.runtime if request is not None and request.runtime is not None else preset.runtime
    return RUNTIMES[name]


def build_workload(request: WorkloadRequest, preset: Preset, gpu: GpuConfig, plan: SizingPlan) -> Workload:
    """Every object to apply for this workspace's inference, from the selected runtime."""
    return select_runtime(preset, request).build(request, preset, gpu, plan)
