"""The InferenceSet kind (kaito.sh v1alpha1 and v1beta1, as KAITO v0.12 serves it): replicas of a Workspace.

An InferenceSet holds a Workspace template (`template.resource` + `template.inference`) and a replica count;
the InferenceSet controller keeps that many Workspaces named `<set>-<index>`, owned by the set, labelled with
`labelSelector.matchLabels` (KAITO puts the same labels in each Workspace's `resource.labelSelector`). The
`scale` subresource reads `.spec.replicas` / `.status.replicas` / `.status.selector`, so `kubectl scale`, an
HPA or a KEDA ScaledObject can drive it. `nodeCountLimit` caps the GPU nodes of all replicas together.

KAITO fields kaito-py keeps but does not act on: `updateStrategy` (a template change is applied to every
Workspace at once) and `autoUpgrade` (base-image upgrades).
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field

from kaito.api.base import ApiModel, FreeForm
from kaito.api.conditions import Condition
from kaito.api.meta import LabelSelector, ListMeta, ObjectMeta
from kaito.api.partition import PartitionSpec
from kaito.api.workspace import InferenceSpec

__all__ = [
    "INFERENCESET_API_VERSIONS",
    "INFERENCESET_STORAGE_VERSION",
    "KEDA_ANNOTATION_AUTO_PROVISION",
    "KEDA_ANNOTATION_MAX_REPLICAS",
    "KEDA_ANNOTATION_METRIC_NAME",
    "KEDA_ANNOTATION_MIN_REPLICAS",
    "KEDA_ANNOTATION_THRESHOLD",
    "KIND_INFERENCESET",
    "LABEL_INFERENCESET",
    "PLURAL_INFERENCESETS",
    "InferenceSet",
    "InferenceSetList",
    "InferenceSetResource",
    "InferenceSetSpec",
    "InferenceSetStatus",
    "InferenceSetTemplate",
]

KIND_INFERENCESET: Final = "InferenceSet"
PLURAL_INFERENCESETS: Final = "inferencesets"
INFERENCESET_API_VERSIONS: Final = ("v1alpha1", "v1beta1")
INFERENCESET_STORAGE_VERSION: Final = "v1beta1"
LABEL_INFERENCESET: Final = "inferenceset.kaito.sh/created-by"
"""On every Workspace an InferenceSet creates: the set's name."""

# KAITO's keda-kaito-scaler annotations (scaledobject.kaito.sh/*) on an InferenceSet.
KEDA_ANNOTATION_AUTO_PROVISION: Final = "scaledobject.kaito.sh/auto-provision"
KEDA_ANNOTATION_METRIC_NAME: Final = "scaledobject.kaito.sh/metricName"
KEDA_ANNOTATION_THRESHOLD: Final = "scaledobject.kaito.sh/threshold"
KEDA_ANNOTATION_MIN_REPLICAS: Final = "scaledobject.kaito.sh/min-replicas"
KEDA_ANNOTATION_MAX_REPLICAS: Final = "scaledobject.kaito.sh/max-replicas"


class InferenceSetResource(ApiModel):
    """The GPU nodes of each replica (a Workspace's `resource` without the label selector)."""

    instance_type: str | None = Field(
        default=None, description="The GPU node SKU; empty when nodes are brought by the user (BYO)."
    )
    partition: PartitionSpec | None = Field(
        default=None, description="A GPU partition (MIG profile) per replica."
    )


class InferenceSetTemplate(ApiModel):
    """What each Workspace replica is made of."""

    metadata: FreeForm | None = Field(default=None, description="Labels and annotations for each Workspace.")
    resource: InferenceSetResource | None = None
    inference: InferenceSpec = Field(description="The inference spec of each Workspace, as in a Workspace.")


class InferenceSetSpec(ApiModel):
    """Desired state: the template and how many Workspaces."""

    template: InferenceSetTemplate
    replicas: int | None = Field(default=None, ge=0, description="How many Workspaces; 1 when absent.")
    node_count_limit: int | None = Field(
        default=None,
        ge=0,
        description="The most GPU nodes all replicas together may use; no limit when absent.",
    )
    label_selector: LabelSelector = Field(description="The labels every Workspace of the set carries.")
    update_strategy: FreeForm | None = Field(default=None, description="Kept; kaito-py updates all at once.")
    auto_upgrade: FreeForm | None = Field(default=None, description="Kept; kaito-py does not auto-upgrade.")

    @property
    def desired_replicas(self) -> int:
        """`replicas`, defaulting to 1 as KAITO does."""
        return 1 if self.replicas is None else self.replicas


class InferenceSetStatus(ApiModel):
    """Observed state, written by the InferenceSet controller."""

    replicas: int | None = Field(default=None, description="Workspaces that exist.")
    ready_replicas: int | None = Field(default=None, description="Workspaces whose inference is ready.")
    selector: str | None = Field(default=None, description="The label selector as a string (for /scale).")
    conditions: list[Condition] | None = None
    performance: FreeForm | None = None
    auto_upgrade: FreeForm | None = None


class InferenceSet(ApiModel):
    """Replicas of a Workspace template, scaled by `spec.replicas`."""

    api_version: Literal["kaito.sh/v1beta1", "kaito.sh/v1alpha1"] = "kaito.sh/v1beta1"
    kind: Literal["InferenceSet"] = KIND_INFERENCESET
    metadata: ObjectMeta
    spec: InferenceSetSpec
    status: InferenceSetStatus | None = None


class InferenceSetList(ApiModel):
    """A list of InferenceSets."""

    api_version: Literal["kaito.sh/v1beta1", "kaito.sh/v1alpha1"] = "kaito.sh/v1beta1"
    kind: Literal["InferenceSetList"] = "InferenceSetList"
    metadata: ListMeta | None = None
    items: list[InferenceSet]
