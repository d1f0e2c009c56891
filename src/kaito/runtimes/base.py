"""The Runtime interface: turn (workspace request, preset, GPU shape, sizing plan) into workloads.

A runtime is a small object with two methods — `server_command` (the serving process's argv, what
`kaito plan` prints) and `build` (the Kubernetes objects to apply) — so a second serving engine slots in
beside vLLM without the controller knowing which one runs. Shared here: how model weights reach the pod
(pre-built image, or download from Hugging Face with the workspace's access token).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from kaito.runtimes.errors import UnsupportedRequestError
from kaito.runtimes.presets import Preset, RuntimeName
from kaito.runtimes.request import WorkloadRequest
from kaito.runtimes.sizing import SizingPlan
from kaito.runtimes.skus import GpuConfig
from kaito.runtimes.workload import Workload

__all__ = ["HF_TOKEN_KEY", "WEIGHTS_PATH", "Runtime", "model_env", "model_source", "serving_image"]

# Where pre-built preset images keep their weights.
WEIGHTS_PATH = "/workspace/vllm/weights"
HF_TOKEN_KEY = "HF_TOKEN"


class Runtime(ABC):
    """A serving engine: builds the command line and the workload for one workspace."""

    name: ClassVar[RuntimeName]

    @abstractmethod
    def server_command(
        self, request: WorkloadRequest, preset: Preset, gpu: GpuConfig, plan: SizingPlan
    ) -> list[str]:
        """argv of the model server process (validated, user overrides applied)."""

    @abstractmethod
    def build(self, request: WorkloadRequest, preset: Preset, gpu: GpuConfig, plan: SizingPlan) -> Workload:
        """The Deployment or StatefulSet, Service(s) and serving command for this workspace."""


def model_source(preset: Preset) -> str:
    """What the server loads: the weights baked into the preset image, or the Hugging Face repo id."""
    return preset.hf_repo if preset.download_at_runtime else WEIGHTS_PATH


def serving_image(request: WorkloadRequest, preset: Preset) -> str:
    """The workspace's image override, else the preset image (or the base image that downloads weights)."""
    return request.image or preset.image


def model_env(request: WorkloadRequest, preset: Preset) -> list[dict[str, Any]]:
    """Environment to download weights: HF_TOKEN from the access secret; gated models without it refused."""
    if not preset.download_at_runtime:
        return []
    if request.model_access_secret is None:
        if preset.gated:
            raise UnsupportedRequestError(
                f"{preset.name} is a gated model ({preset.hf_repo}, licence {preset.license}); set the "
                f"workspace's modelAccessSecret to a Secret whose {HF_TOKEN_KEY} key holds a Hugging Face "
                "token with access to it."
            )
        return []
    return [
        {
            "name": HF_TOKEN_KEY,
            "valueFrom": {"secretKeyRef": {"name": request.model_access_secret, "key": HF_TOKEN_KEY}},
        }
    ]
