"""The Runtime interface: turn (workspace request, preset, GPU shape, sizing plan) into workloads.

A runtime is a small object with two methods — `server_command` (the serving process's argv, what
`kaito plan` prints) and `build` (the Kubernetes objects to apply) — so a second serving engine slots in
beside vLLM without the controller knowing which one runs. Shared here: how model weights reach the pod
(an OCI artifact pulled by an init container, or download from Hugging Face with the workspace's access
token).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from kaito.runtimes.errors import UnsupportedRequestError
from kaito.runtimes.presets import Preset, RuntimeName
from kaito.runtimes.request import WorkloadRequest
from kaito.runtimes.sizing import SizingPlan
from kaito.runtimes.skus import GpuConfig
from kaito.runtimes.workload import WEIGHTS_PATH, Workload

__all__ = [
    "HF_TOKEN_KEY",
    "Runtime",
    "model_env",
    "model_source",
    "serving_image",
    "weights_artifact",
]

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
    """What the server loads: the pulled (or, for a test preset, built-in) weights, or the HF repo id."""
    return preset.hf_repo if preset.download_at_runtime else WEIGHTS_PATH


def serving_image(request: WorkloadRequest, preset: Preset) -> str:
    """The workspace's image override, else the preset's image (KAITO's base image)."""
    return request.image or preset.image


def weights_artifact(request: WorkloadRequest, preset: Preset) -> str | None:
    """The OCI artifact an init container pulls the weights from; none when the user brings an image."""
    return None if request.image else preset.weights_artifact


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
