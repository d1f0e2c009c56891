"""The Workspace kind as KAITO first served it (kaito.sh/v1alpha1): served for old manifests, never stored.

KAITO's quick start writes `apiVersion: kaito.sh/v1alpha1`. The cluster stores v1beta1 (`kaito.api.workspace`)
and the operator's `/convert` webhook translates between the two (`kaito.api.conversion`). The v1alpha1 shape
is v1beta1's without the fields v1beta1 added:

- `inference.preset.presetOptions.modelAccessSecret` and `tuning.preset.presetOptions.modelAccessSecret`;
- `status.state` and `status.targetNodeCount`.

Everything else (resource, inference, tuning, adapters, data sources, conditions) has the same wire form, so
these models reuse v1beta1's sub-models where the shape is identical. The printer columns of this version
are the ones the quick start shows (`WORKSPACEREADY`, the WorkspaceSucceeded condition under its v1alpha1
name; `kaito.api.crd`).
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import ConfigDict, Field

from kaito.api import names, rules
from kaito.api.base import ApiModel, FreeForm
from kaito.api.conditions import Condition
from kaito.api.meta import ObjectMeta
from kaito.api.workspace import (
    MAX_ADAPTERS,
    AdapterSpec,
    DataDestination,
    DataSource,
    ResourceSpec,
    TuningMethod,
)

__all__ = [
    "V1ALPHA1",
    "V1ALPHA1_API_VERSION",
    "V1Alpha1InferenceSpec",
    "V1Alpha1PresetOptions",
    "V1Alpha1PresetSpec",
    "V1Alpha1TuningSpec",
    "V1Alpha1Workspace",
    "V1Alpha1WorkspaceStatus",
]

V1ALPHA1: Final = "v1alpha1"
V1ALPHA1_API_VERSION: Final = f"{names.API_GROUP}/{V1ALPHA1}"


class V1Alpha1PresetOptions(ApiModel):
    """Options of a preset model (v1alpha1: the image and its pull secrets)."""

    image: str | None = Field(
        default=None,
        max_length=512,
        description="The image holding the model.",
        json_schema_extra=rules.validations(rules.IMAGE_REFERENCE),
    )
    image_pull_secrets: list[str] | None = Field(
        default=None, description="Secrets in the Workspace's namespace used to pull the image."
    )


class V1Alpha1PresetSpec(ApiModel):
    """A model from the preset catalog."""

    name: str = Field(min_length=1, description="Name of a supported preset model.")
    access_mode: Literal["public", "private"] | None = Field(
        default=None, description="Whether the model image is in a public or a private registry."
    )
    preset_options: V1Alpha1PresetOptions | None = None


class V1Alpha1InferenceSpec(ApiModel):
    """Serve a model: a preset, or a pod template of your own."""

    model_config = ConfigDict(
        json_schema_extra=rules.validations(rules.INFERENCE_PRESET_OR_TEMPLATE, rules.INFERENCE_NOT_BOTH)
    )

    preset: V1Alpha1PresetSpec | None = Field(default=None, description="The preset model to serve.")
    template: FreeForm | None = Field(
        default=None, description="A PodTemplateSpec to run instead of a preset (kept as given)."
    )
    config: str | None = Field(
        default=None, description="Name of a ConfigMap in the Workspace's namespace with inference arguments."
    )
    adapters: list[AdapterSpec] | None = Field(
        default=None, max_length=MAX_ADAPTERS, description="Adapters applied to the base model."
    )


class V1Alpha1TuningSpec(ApiModel):
    """Fine-tune a preset model with a parameter-efficient method."""

    preset: V1Alpha1PresetSpec = Field(description="The preset model to tune.")
    method: TuningMethod = Field(description="The parameter-efficient fine-tuning method: lora or qlora.")
    config: str | None = Field(
        default=None, description="Name of a ConfigMap in the Workspace's namespace with tuning arguments."
    )
    input: DataSource = Field(
        description="The training data: exactly one of urls, image or volumeSource.",
        json_schema_extra=rules.validations(rules.TUNING_INPUT_ONE_SOURCE),
    )
    output: DataDestination = Field(
        description="Where the adapter is stored: an image (with imagePushSecret) or a volumeSource.",
        json_schema_extra=rules.validations(
            rules.TUNING_OUTPUT_ONE_DESTINATION, rules.TUNING_OUTPUT_NEEDS_PUSH_SECRET
        ),
    )


class V1Alpha1WorkspaceStatus(ApiModel):
    """What the controller observed (v1alpha1: nodes and conditions)."""

    worker_nodes: list[str] | None = Field(default=None, description="The nodes chosen to run the workload.")
    conditions: list[Condition] | None = Field(
        default=None, description="ResourceReady, InferenceReady or JobStarted, and WorkspaceSucceeded."
    )


class V1Alpha1Workspace(ApiModel):
    """A model served or fine-tuned on GPU nodes (kaito.sh/v1alpha1 Workspace, converted to v1beta1)."""

    model_config = ConfigDict(
        json_schema_extra=rules.validations(
            rules.WORKSPACE_NOT_NEITHER, rules.WORKSPACE_NOT_BOTH, rules.TUNING_SINGLE_NODE
        )
    )

    api_version: Literal["kaito.sh/v1alpha1"] = "kaito.sh/v1alpha1"
    kind: Literal["Workspace"] = names.KIND_WORKSPACE
    metadata: ObjectMeta
    resource: ResourceSpec
    inference: V1Alpha1InferenceSpec | None = None
    tuning: V1Alpha1TuningSpec | None = None
    status: V1Alpha1WorkspaceStatus | None = None
