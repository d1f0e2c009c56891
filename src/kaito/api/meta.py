"""Object metadata shared by every kind: ObjectMeta, OwnerReference, ListMeta, LabelSelector (meta/v1).

These are faithful subsets of the Kubernetes types: every field the API server may return is declared, so an
object read from a cluster parses without loss and dumps back unchanged. `managedFields` is kept as plain
data; kaito-py never interprets it.

A LabelSelector matches a set of labels when every `matchLabels` pair is present and every `matchExpressions`
requirement holds; an empty selector matches everything (Kubernetes' rule). `LabelSelector.matches` implements
exactly that, so BYO node selection and tests agree with the API server's `labelSelector` queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import ConfigDict, Field

from kaito.api.base import ApiModel, FreeForm, Time

__all__ = [
    "LabelSelector",
    "LabelSelectorRequirement",
    "ListMeta",
    "ObjectMeta",
    "OwnerReference",
    "controller_reference",
]


class OwnerReference(ApiModel):
    """Points at the object that owns this one; the garbage collector deletes dependents after their owner."""

    api_version: str = Field(description="API version of the owner.")
    kind: str = Field(description="Kind of the owner.")
    name: str = Field(description="Name of the owner.")
    uid: str = Field(description="UID of the owner.")
    controller: bool | None = Field(
        default=None, description="True on the one reference that manages this object."
    )
    block_owner_deletion: bool | None = Field(
        default=None, description="Foreground deletion of the owner waits for this object when true."
    )


class ObjectMeta(ApiModel):
    """Standard object metadata (metav1.ObjectMeta)."""

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    self_link: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: Time | None = None
    deletion_timestamp: Time | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: list[str] | None = None
    managed_fields: list[FreeForm] | None = None

    @property
    def key(self) -> str:
        """The object's cache key: `namespace/name`, or `name` for a cluster-scoped object."""
        name = self.name or ""
        return f"{self.namespace}/{name}" if self.namespace else name


class ListMeta(ApiModel):
    """Metadata of a list response (metav1.ListMeta)."""

    self_link: str | None = None
    resource_version: str | None = None
    continue_: str | None = Field(default=None, alias="continue")
    remaining_item_count: int | None = None


class LabelSelectorRequirement(ApiModel):
    """One requirement of a label selector: `key operator values`."""

    key: str = Field(description="The label key the requirement applies to.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="How the key relates to the values: In, NotIn, Exists or DoesNotExist."
    )
    values: list[str] | None = Field(
        default=None, description="Values for In and NotIn (non-empty); empty for Exists and DoesNotExist."
    )

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether `labels` satisfy this requirement."""
        present = self.key in labels
        values = self.values or []
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator == "In":
            return present and labels[self.key] in values
        return not present or labels[self.key] not in values


class LabelSelector(ApiModel):
    """Selects objects by label (metav1.LabelSelector); the requirements are ANDed."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-map-type": "atomic"})

    match_labels: dict[str, str] | None = Field(
        default=None, description="Labels that must be present with exactly these values."
    )
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        default=None, description="Further requirements on labels; all must hold."
    )

    @property
    def is_empty(self) -> bool:
        """True when the selector has no requirement at all (and so matches every object)."""
        return not self.match_labels and not self.match_expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an object with `labels` is selected."""
        for key, value in (self.match_labels or {}).items():
            if labels.get(key) != value:
                return False
        return all(requirement.matches(labels) for requirement in self.match_expressions or [])


def controller_reference(api_version: str, kind: str, meta: ObjectMeta) -> OwnerReference:
    """The ownerReference a controller puts on what it creates for the object (`controller` and
    `blockOwnerDeletion` set, as controller-runtime's SetControllerReference does)."""
    if not meta.name or not meta.uid:
        raise ValueError(
            f"{kind} {meta.key or '<unnamed>'} has no name or uid yet; "
            "an owner reference needs an object read back from the API server"
        )
    return OwnerReference(
        api_version=api_version,
        kind=kind,
        name=meta.name,
        uid=meta.uid,
        controller=True,
        block_owner_deletion=True,
    )
