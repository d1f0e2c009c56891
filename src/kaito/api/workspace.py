"""The Workspace kind (kaito.sh/v1beta1, namespaced): a model to serve or fine-tune, and the GPU nodes for it.

Field for field the shape of KAITO's v1beta1 Workspace, including its quirk that `resource`, `inference`,
`tuning` and `status` sit at the top level of the object rather than under `spec`:

    apiVersion: kaito.sh/v1beta1
    kind: Workspace
    metadata: {name: workspace-phi-3-mini}
    resource: {instanceType: Standard_NC6s_v3, labelSelector: {matchLabels: {apps: phi-3}}}
    inference: {preset: {name: phi-3-mini-4k-instruct}}

Free-form Kubernetes objects (`inference.template`, a PodTemplateSpec; `volumeSource`, a VolumeSource) are
kept as plain data and preserved unknown-fields in the CRD. What a model may hold is what the CRD schema
admits; the cross-field rules (one of inference/tuning, preset or template, ...) are attached as CEL rules for
the API server and re-checked, together with the rules CEL cannot express, by `kaito.api.validation.validate`.

Optional fields are None when absent (never a default), so `to_wire()` returns exactly what the user wrote;
accessors such as `ResourceSpec.node_count` apply KAITO's defaults when reading.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from kaito.api import names, rules
from kaito.api.base import ApiModel, FreeForm
from kaito.api.conditions import Condition
from kaito.api.meta import LabelSelector, ListMeta, ObjectMeta
from kaito.api.partition import PartitionSpec

__all__ = [
    "MAX_ADAPTERS",
    "AdapterSpec",
    "DataDestination",
    "DataSource",
    "InferenceSpec",
    "PresetOptions",
    "PresetSpec",
    "ResourceSpec",
    "TuningMethod",
    "TuningSpec",
    "Workspace",
    "WorkspaceList",
    "WorkspaceState",
    "WorkspaceStatus",
]

MAX_ADAPTERS = 10
"""KAITO's limit on adapters per inference Workspace."""

TuningMethod = Literal["lora", "qlora"]
WorkspaceState = Literal["Pending", "Ready", "NotReady", "Running", "Succeeded", "Failed"]

_IMAGE_MAX_LENGTH = 512


def _image_field(description: str) -> str | None:
    return Field(
        default=None,
        max_length=_IMAGE_MAX_LENGTH,
        description=description,
        json_schema_extra=rules.validations(rules.IMAGE_REFERENCE),
    )


class ResourceSpec(ApiModel):
    """The GPU nodes the workload runs on. When fewer matching nodes exist than needed, the controller
    provisions new ones of `instanceType`; the nodes finally used are listed in `status.workerNodes`."""

    model_config = ConfigDict(json_schema_extra=rules.validations(rules.INSTANCE_TYPE_OR_BYO))

    count: int | None = Field(
        default=None,
        ge=1,
        description="Deprecated: the required number of GPU nodes (1 when unset); "
        "the controller sizes the node count from the model.",
    )
    instance_type: str | None = Field(
        default=None,
        description="The GPU node SKU, e.g. Standard_NC6s_v3. Required unless labelSelector or "
        "preferredNodes select existing nodes (bring your own).",
    )
    label_selector: LabelSelector = Field(description="The labels the GPU nodes must carry.")
    preferred_nodes: list[str] | None = Field(
        default=None,
        description="Deprecated: names of existing nodes to use first; nodes without the required labels "
        "are ignored, and instanceType nodes are created for the remainder.",
    )
    partition: PartitionSpec | None = Field(
        default=None,
        description="GPU partitioning on bring-your-own nodes: one MIG slice (mode mig, profile) or several "
        "whole GPUs (mode accelerator, count) instead of every GPU of a node.",
    )

    @property
    def node_count(self) -> int:
        """The requested node count, 1 when unset (KAITO's default)."""
        return self.count if self.count is not None else 1

    @property
    def is_bring_your_own(self) -> bool:
        """True when no instanceType is given, so only existing nodes selected by the labels can be used."""
        return not self.instance_type


class PresetOptions(ApiModel):
    """Options of a preset model."""

    image: str | None = _image_field(
        "Deprecated: the image holding the model (KAITO now downloads weights at runtime)."
    )
    image_pull_secrets: list[str] | None = Field(
        default=None, description="Deprecated: secrets in the Workspace's namespace used to pull the image."
    )
    model_access_secret: str | None = Field(
        default=None,
        description="Name of the secret with the Hugging Face access token (key HF_TOKEN) for gated models.",
    )


class PresetSpec(ApiModel):
    """A model from the preset catalog, run with the preset's configuration."""

    name: str = Field(
        min_length=1,
        description="Name of a supported preset model, e.g. phi-3-mini-4k-instruct, or (for inference) a "
        "Hugging Face model id such as Qwen/Qwen2.5-7B-Instruct, sized from the model's config.json.",
    )
    access_mode: Literal["public", "private"] | None = Field(
        default=None,
        description="Deprecated: whether the model image is in a public or a private registry "
        "(public when unset).",
    )
    preset_options: PresetOptions | None = None


class DataSource(ApiModel):
    """Where data comes from: public URLs, an image (data in its /data directory) or a volume."""

    name: str | None = Field(
        default=None,
        description="Name of the data set; also used as a container name, so it must be a DNS subdomain.",
    )
    urls: list[str] | None = Field(
        default=None, description="Links to public data, e.g. files on Hugging Face."
    )
    volume_source: FreeForm | None = Field(
        default=None, description="A Kubernetes VolumeSource holding the data (kept as given)."
    )
    image: str | None = _image_field("An image with the data in its `data` directory.")
    image_pull_secrets: list[str] | None = Field(
        default=None, description="Secrets in the Workspace's namespace used to pull the data image."
    )


class DataDestination(ApiModel):
    """Where tuning output goes: an image pushed with a secret, or a volume."""

    volume_source: FreeForm | None = Field(
        default=None, description="A Kubernetes VolumeSource the output is written to (kept as given)."
    )
    image: str | None = _image_field("The image the output is pushed to.")
    image_push_secret: str | None = Field(
        default=None,
        description="Secret in the Workspace's namespace with the credentials to push the image.",
    )


class AdapterSpec(ApiModel):
    """A LoRA adapter loaded on top of the base model."""

    model_config = ConfigDict(
        json_schema_extra=rules.validations(
            rules.ADAPTER_NEEDS_NAME, rules.ADAPTER_NEEDS_IMAGE_OR_VOLUME, rules.ADAPTER_NO_URLS
        )
    )

    source: DataSource = Field(description="Where the adapter comes from: a name and an image or a volume.")
    strength: str | None = Field(
        default=None,
        max_length=32,
        description="Multiplier applied to the adapter weights: a decimal between 0 and 1, written as a "
        'string ("1.0" when unset).',
        json_schema_extra=rules.validations(rules.STRENGTH_RANGE),
    )


class InferenceSpec(ApiModel):
    """Serve a model: a preset, or a pod template of your own."""

    model_config = ConfigDict(
        json_schema_extra=rules.validations(rules.INFERENCE_PRESET_OR_TEMPLATE, rules.INFERENCE_NOT_BOTH)
    )

    preset: PresetSpec | None = Field(default=None, description="The preset model to serve.")
    template: FreeForm | None = Field(
        default=None,
        description="A PodTemplateSpec to run instead of a preset (kept as given). "
        "Set preset or template, not both.",
    )
    config: str | None = Field(
        default=None,
        description="Name of a ConfigMap in the Workspace's namespace with inference arguments "
        "(key inference_config.yaml).",
    )
    adapters: list[AdapterSpec] | None = Field(
        default=None,
        max_length=MAX_ADAPTERS,
        description=f"Adapters applied to the base model, at most {MAX_ADAPTERS}.",
    )


class TuningSpec(ApiModel):
    """Fine-tune a preset model with a parameter-efficient method."""

    preset: PresetSpec = Field(description="The preset model to tune.")
    method: TuningMethod = Field(description="The parameter-efficient fine-tuning method: lora or qlora.")
    config: str | None = Field(
        default=None,
        description="Name of a ConfigMap in the Workspace's namespace with tuning arguments "
        "(the method's default when unset).",
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


class WorkspaceStatus(ApiModel):
    """What the controller observed."""

    worker_nodes: list[str] | None = Field(default=None, description="The nodes chosen to run the workload.")
    state: WorkspaceState | None = Field(default=None, description="The high-level state of the Workspace.")
    conditions: list[Condition] | None = Field(
        default=None, description="ResourceReady, InferenceReady or JobStarted, and WorkspaceSucceeded."
    )
    target_node_count: int | None = Field(
        default=None, ge=0, description="The number of GPU nodes the sizing plan needs; fixed once set."
    )


class Workspace(ApiModel):
    """A model served or fine-tuned on GPU nodes (kaito.sh/v1beta1 Workspace)."""

    model_config = ConfigDict(
        json_schema_extra=rules.validations(
            rules.WORKSPACE_NOT_NEITHER, rules.WORKSPACE_NOT_BOTH, rules.TUNING_SINGLE_NODE
        )
    )

    api_version: Literal["kaito.sh/v1beta1"] = names.API_VERSION
    kind: Literal["Workspace"] = names.KIND_WORKSPACE
    metadata: ObjectMeta
    resource: ResourceSpec
    inference: InferenceSpec | None = None
    tuning: TuningSpec | None = None
    status: WorkspaceStatus | None = None

    @property
    def is_inference(self) -> bool:
        """True for a Workspace that serves a model."""
        return self.inference is not None

    @property
    def is_tuning(self) -> bool:
        """True for a Workspace that fine-tunes a model."""
        return self.tuning is not None

    @property
    def preset_name(self) -> str | None:
        """The preset being served or tuned, if any."""
        if self.inference is not None and self.inference.preset is not None:
            return self.inference.preset.name
        if self.tuning is not None:
            return self.tuning.preset.name
        return None


class WorkspaceList(ApiModel):
    """A list of Workspaces, as the API server returns it."""

    api_version: Literal["kaito.sh/v1beta1"] = names.API_VERSION
    kind: Literal["WorkspaceList"] = "WorkspaceList"
    metadata: ListMeta | None = None
    items: list[Workspace]
