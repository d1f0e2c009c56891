"""The MultiRoleInference kind (kaito.sh/v1alpha1, KAITO v0.12): one model served by prefill and decode roles.

kaito-py maps it onto what exists: each role becomes an InferenceSet `<name>-<role>` of the model on the
role's instance type with the role's replicas, owned by the MultiRoleInference. Not done (KAITO's
disaggregated serving): the KV-cache transfer between prefill and decode pods, the role-specific vLLM
flags, the endpoint picker (`eppPluginsConfig`) and `runtimeConfig`; each role serves the whole model, and
the `RolesReady` condition says so.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field

from kaito.api.base import ApiModel
from kaito.api.conditions import Condition
from kaito.api.meta import LabelSelector, ListMeta, ObjectMeta

__all__ = [
    "KIND_MULTIROLEINFERENCE",
    "PLURAL_MULTIROLEINFERENCES",
    "MultiRoleInference",
    "MultiRoleInferenceList",
    "MultiRoleInferenceModel",
    "MultiRoleInferenceRole",
    "MultiRoleInferenceSpec",
    "MultiRoleInferenceStatus",
]

KIND_MULTIROLEINFERENCE: Final = "MultiRoleInference"
PLURAL_MULTIROLEINFERENCES: Final = "multiroleinferences"


class MultiRoleInferenceModel(ApiModel):
    """The model every role serves."""

    name: str = Field(min_length=1, description="A preset name or a Hugging Face model id.")
    model_access_secret: str | None = Field(
        default=None, description="A Secret with HF_TOKEN, for gated models."
    )


class MultiRoleInferenceRole(ApiModel):
    """One role: prefill or decode, its replicas and GPU nodes."""

    type: Literal["prefill", "decode"] = Field(description="The role: prefill or decode.")
    replicas: int | None = Field(
        default=None, ge=0, description="How many replicas of the role; 1 when absent."
    )
    instance_type: str | None = Field(default=None, description="The GPU node SKU of the role.")
    runtime_config: str | None = Field(default=None, description="Kept; kaito-py does not apply it.")


class MultiRoleInferenceSpec(ApiModel):
    """Desired state."""

    label_selector: LabelSelector = Field(description="The labels every Workspace of the roles carries.")
    model: MultiRoleInferenceModel
    epp_plugins_config: str | None = Field(
        default=None, description="Kept; kaito-py runs no endpoint picker."
    )
    roles: list[MultiRoleInferenceRole] = Field(min_length=1, max_length=2, description="prefill and decode.")


class MultiRoleInferenceStatus(ApiModel):
    """Observed state."""

    conditions: list[Condition] | None = None
    observed_generation: int | None = None


class MultiRoleInference(ApiModel):
    """A model served by prefill and decode roles (each an InferenceSet in kaito-py)."""

    api_version: Literal["kaito.sh/v1alpha1"] = "kaito.sh/v1alpha1"
    kind: Literal["MultiRoleInference"] = KIND_MULTIROLEINFERENCE
    metadata: ObjectMeta
    spec: MultiRoleInferenceSpec
    status: MultiRoleInferenceStatus | None = None


class MultiRoleInferenceList(ApiModel):
    """A list of MultiRoleInferences."""

    api_version: Literal["kaito.sh/v1alpha1"] = "kaito.sh/v1alpha1"
    kind: Literal["MultiRoleInferenceList"] = "MultiRoleInferenceList"
    metadata: ListMeta | None = None
    items: list[MultiRoleInference]
