"""What a workload builder needs to know about one workspace, independent of the API types.

The Workspace controller builds a `WorkloadRequest` from a Workspace (name, namespace, labels, the nodes it
owns, adapters, the parsed inference ConfigMap, image overrides, model access secret); runtimes never read
kaito.api types, which keeps this layer testable with plain values.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kaito.runtimes.presets import RuntimeName

__all__ = ["Adapter", "WorkloadRequest"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _check_dns_label(kind: str, value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{kind} {value!r} is not a valid DNS label; use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


class Adapter(BaseModel):
    """A LoRA adapter to load next to the base model, from an image (its files under /data in the image)
    or from a volume (the adapter's files at the volume's root). Either way the server finds it in
    /mnt/adapter/<name>."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    image: str | None = None
    volume_source: dict[str, Any] | None = Field(
        default=None, description="a Kubernetes VolumeSource holding the adapter's files"
    )
    strength: float = Field(default=1.0, gt=0, le=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_dns_label("adapter name", value)

    @model_validator(mode="after")
    def _one_source(self) -> Adapter:
        if (self.image is None) == (self.volume_source is None):
            found = "both" if self.image is not None else "neither"
            raise ValueError(
                f"adapter {self.name} needs exactly one of image or volume_source; found {found}"
            )
        return self


class WorkloadRequest(BaseModel):
    """One workspace's inference request, as the workload builders consume it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace: str
    namespace: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    node_names: tuple[str, ...] = ()
    adapters: tuple[Adapter, ...] = ()
    vllm_config: dict[str, Any] = Field(
        default_factory=dict, description="the `vllm:` map of the ConfigMap key inference_config.yaml"
    )
    transformers_config: dict[str, Any] = Field(
        default_factory=dict, description="the `transformers:` map of inference_config.yaml"
    )
    runtime: RuntimeName | None = Field(default=None, description="override the preset's runtime")
    config_map: str | None = Field(
        default=None, description="the inference ConfigMap, mounted for the serving program to read"
    )
    image: str | None = Field(default=None, description="serve with this image instead of the preset's")
    image_pull_secrets: tuple[str, ...] = ()
    service_type: Literal["ClusterIP", "LoadBalancer"] = "ClusterIP"
    gpu_resource: str = Field(
        default="nvidia.com/gpu", description="the extended resource requested (a MIG profile's on a slice)"
    )
    model_access_secret: str | None = Field(
        default=None, description="Secret whose HF_TOKEN key downloads gated weights"
    )

    @field_validator("workspace")
    @classmethod
    def _workspace(cls, value: str) -> str:
        return _check_dns_label("workspace name", value)

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return _check_dns_label("namespace", value)

    @field_validator("adapters")
    @classmethod
    def _unique_adapters(cls, value: tuple[Adapter, ...]) -> tuple[Adapter, ...]:
        names = [a.name for a in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"adapter names must be unique; {', '.join(repeated)} appears more than once")
        return value
