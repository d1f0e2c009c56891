"""The Machine kind (kaito.sh/v1beta1, cluster-scoped): the request for one GPU node.

The Workspace controller creates one Machine per node it is missing; the Machine controller makes it real
through a provisioner (an AKS agent pool or a Karpenter NodeClaim) and reports progress with Karpenter's
condition vocabulary, in order: Launched (the cloud accepted the request), Registered (a Node joined the
cluster), Initialized (the Node is Ready and shows its GPUs), Ready (all of the above hold).

Invariants:
- `spec` is immutable (a CEL transition rule in the CRD): a different node means a different Machine.
- `status.failureReason`/`failureMessage` are set only once the Machine has failed for good (quota, capacity,
  a timeout); a failed Machine is never retried in place, its owner replaces it.
- `status.nodeName` and `status.providerID` name the Node bound to the Machine once it registered.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kaito.api import names, rules
from kaito.api.base import ApiModel, Quantity, Time
from kaito.api.conditions import Condition
from kaito.api.meta import ListMeta, ObjectMeta

__all__ = [
    "Machine",
    "MachineList",
    "MachineSpec",
    "MachineStatus",
    "ProvisionerName",
    "Taint",
    "WorkspaceReference",
]

ProvisionerName = Literal["aks", "karpenter"]


class Taint(ApiModel):
    """A node taint (core/v1 Taint)."""

    key: str = Field(min_length=1, description="The taint key, e.g. sku.")
    value: str | None = Field(default=None, description="The taint value, e.g. gpu.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = Field(
        description="What the taint does to pods that do not tolerate it."
    )
    time_added: Time | None = Field(default=None, description="When a NoExecute taint was added.")


class WorkspaceReference(ApiModel):
    """The Workspace a Machine was created for."""

    namespace: str = Field(min_length=1, description="Namespace of the Workspace.")
    name: str = Field(min_length=1, description="Name of the Workspace.")
    uid: str | None = Field(default=None, description="UID of the Workspace, to tell a re-created one apart.")


class MachineSpec(ApiModel):
    """The node wanted."""

    instance_type: str = Field(min_length=1, description="The GPU node SKU, e.g. Standard_NC24ads_A100_v4.")
    provisioner: ProvisionerName | None = Field(
        default=None,
        description="Who makes the node: aks (one agent pool per Machine) or karpenter (a NodeClaim); "
        "the controller's default when unset.",
    )
    node_labels: dict[str, str] | None = Field(default=None, description="Labels the Node must carry.")
    taints: list[Taint] | None = Field(default=None, description="Taints the Node must carry.")
    os_disk_size_gb: int | None = Field(
        default=None,
        alias="osDiskSizeGB",
        ge=1,
        description="OS disk size in GB (the model's disk requirement); the provider's default when unset.",
    )
    workspace_ref: WorkspaceReference | None = Field(
        default=None, description="The Workspace this node is for, if any."
    )
    image_family: Literal["ubuntu", "azurelinux"] | None = Field(
        default=None,
        description="The node image family (the Workspace's kaito.sh/node-image-family annotation); "
        "the provider's default when unset.",
    )


class MachineStatus(ApiModel):
    """What the Machine controller observed."""

    node_name: str | None = Field(default=None, description="The Node bound to this Machine.")
    provider_id: str | None = Field(
        default=None, alias="providerID", description="The cloud's identifier of the node's VM."
    )
    capacity: dict[str, Quantity] | None = Field(default=None, description="The Node's resource capacity.")
    allocatable: dict[str, Quantity] | None = Field(
        default=None, description="The Node's resources available to pods."
    )
    conditions: list[Condition] | None = Field(
        default=None, description="Launched, Registered, Initialized and Ready (Karpenter's vocabulary)."
    )
    failure_reason: str | None = Field(
        default=None,
        description="Set when the Machine failed for good: a CamelCase code such as QuotaExceeded.",
    )
    failure_message: str | None = Field(
        default=None,
        description="Set when the Machine failed for good: a sentence saying why, e.g. the cloud's message.",
    )

    @property
    def failed(self) -> bool:
        """True once the Machine has failed for good."""
        return self.failure_reason is not None


class Machine(ApiModel):
    """A request for one GPU node (kaito.sh/v1beta1 Machine, cluster-scoped)."""

    api_version: Literal["kaito.sh/v1beta1"] = names.API_VERSION
    kind: Literal["Machine"] = names.KIND_MACHINE
    metadata: ObjectMeta
    spec: MachineSpec = Field(
        json_schema_extra={"x-kubernetes-validations": [rules.MACHINE_SPEC_IMMUTABLE.schema()]}
    )
    status: MachineStatus | None = None


class MachineList(ApiModel):
    """A list of Machines, as the API server returns it."""

    api_version: Literal["kaito.sh/v1beta1"] = names.API_VERSION
    kind: Literal["MachineList"] = "MachineList"
    metadata: ListMeta | None = None
    items: list[Machine]
