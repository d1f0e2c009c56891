"""The agentPool resource at the ARM boundary: parse and validate a PUT body, render the wire form.

Pure functions only; no state and no I/O. :func:`parse_agent_pool` turns a request body into an
:class:`AgentPoolSpec` or raises :class:`~kaito.sim.cloud.arm.errors.ArmError` with AKS's code and a sentence
naming the field, the value and what is accepted. :func:`render_agent_pool` produces the JSON the SDK's
``AgentPool`` model reads (``properties.provisioningState``, ``properties.eTag``,
``properties.status.provisioningError``, ...). Properties the sim does not interpret are kept verbatim
in ``AgentPoolSpec.extra`` and echoed back, as AKS echoes what it stored.

Defaults are AKS's: ``type`` VirtualMachineScaleSets, ``mode`` User, ``osType`` Linux, ``osSKU`` Ubuntu,
``maxPods`` 110, ``osDiskSizeGB`` 128 (0 means default), ``osDiskType`` Managed. A ``gpuInstanceProfile``
(MIG1g ... MIG7g) is accepted only on the sizes the catalogue marks MIG-capable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kaito.sim.cloud.arm.errors import ArmError
from kaito.sim.cloud.vmsizes import find_vm_size, mig_slice

__all__ = [
    "POOL_TYPE",
    "AgentPoolSpec",
    "ClusterIds",
    "parse_agent_pool",
    "parse_taint",
    "render_agent_pool",
    "render_managed_cluster",
]

POOL_TYPE = "Microsoft.ContainerService/managedClusters/agentPools"
_LINUX_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_WINDOWS_NAME = re.compile(r"^[a-z][a-z0-9]{0,5}$")
_TAINT = re.compile(
    r"^(?P<key>[A-Za-z0-9][-A-Za-z0-9_./]*)(=(?P<value>[-A-Za-z0-9_.]*))?:(?P<effect>[A-Za-z]+)$"
)
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_NAMING_RULES = "Please see https://aka.ms/aks-naming-rules for more details."


@dataclass(frozen=True)
class ClusterIds:
    """Where the simulated cluster lives in Azure, and the ids derived from that."""

    subscription_id: str
    resource_group: str
    cluster_name: str
    location: str
    kubernetes_version: str = "1.32.7"

    @property
    def node_resource_group(self) -> str:
        """AKS's default node resource group, which holds the VM scale sets."""
        return f"MC_{self.resource_group}_{self.cluster_name}_{self.location}"

    @property
    def cluster_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.ContainerService/managedClusters/{self.cluster_name}"
        )

    def pool_id(self, pool: str) -> str:
        return f"{self.cluster_id}/agentPools/{pool}"


class _PropertiesIn(BaseModel):
    """The properties of a PUT body that the sim interprets; anything else is kept as given."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, strict=False)

    count: int | None = None
    vm_size: str | None = Field(default=None, alias="vmSize")
    os_disk_size_gb: int | None = Field(default=None, alias="osDiskSizeGB")
    os_type: str | None = Field(default=None, alias="osType")
    os_sku: str | None = Field(default=None, alias="osSKU")
    mode: str | None = None
    pool_type: str | None = Field(default=None, alias="type")
    max_pods: int | None = Field(default=None, alias="maxPods")
    node_labels: dict[str, str] | None = Field(default=None, alias="nodeLabels")
    node_taints: list[str] | None = Field(default=None, alias="nodeTaints")
    tags: dict[str, str] | None = None
    availability_zones: list[str] | None = Field(default=None, alias="availabilityZones")
    orchestrator_version: str | None = Field(default=None, alias="orchestratorVersion")
    gpu_instance_profile: str | None = Field(default=None, alias="gpuInstanceProfile")


# Read-only properties a client may send back from a GET; AKS ignores them on PUT.
_READ_ONLY = frozenset(
    {
        "provisioningState",
        "powerState",
        "eTag",
        "currentOrchestratorVersion",
        "nodeImageVersion",
        "status",
    }
)


class AgentPoolSpec(BaseModel):
    """A validated agent pool as the user asked for it (defaults filled in)."""

    model_config = ConfigDict(frozen=True)

    count: int
    vm_size: str
    os_disk_size_gb: int
    os_type: str
    os_sku: str
    mode: str
    pool_type: str
    max_pods: int
    node_labels: dict[str, str]
    node_taints: tuple[str, ...]
    tags: dict[str, str]
    availability_zones: tuple[str, ...]
    orchestrator_version: str
    gpu_instance_profile: str | None
    extra: dict[str, Any]


def _invalid(field: str, message: str) -> ArmError:
    return ArmError(
        400, "InvalidParameter", f"The value of parameter agentPoolProfile.{field} is invalid. {message}"
    )


def parse_taint(taint: str) -> dict[str, str]:
    """``key=value:Effect`` (value optional) as a Kubernetes taint dict; ValueError when malformed."""
    match = _TAINT.match(taint)
    if match is None or match["effect"] not in _EFFECTS:
        raise ValueError(
            f"taint {taint!r} is not of the form key=value:Effect with Effect one of {', '.join(_EFFECTS)}"
        )
    result = {"key": match["key"], "effect": match["effect"]}
    if match["value"]:
        result["value"] = match["value"]
    return result


def _validate_name(name: str, os_type: str) -> None:
    pattern, limit = (_WINDOWS_NAME, 6) if os_type == "Windows" else (_LINUX_NAME, 12)
    if not pattern.match(name):
        raise _invalid(
            "name",
            f"Agent pool name {name!r} is not allowed: it must start with a lowercase letter and contain "
            f"only lowercase letters and digits, at most {limit} characters for {os_type} pools. "
            + _NAMING_RULES,
        )


def parse_agent_pool(name: str, body: Any, ids: ClusterIds) -> AgentPoolSpec:
    """Validate a PUT body for pool ``name`` as AKS does; raise ArmError (400) where AKS would refuse it."""
    if not isinstance(body, dict):
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: the body must be a JSON object "
            "with a 'properties' object.",
        )
    raw_properties = body.get("properties", {})
    if not isinstance(raw_properties, dict):
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"The request content was invalid and could not be deserialized: 'properties' is "
            f"{type(raw_properties).__name__}, expected a JSON object.",
        )
    try:
        props = _PropertiesIn.model_validate(raw_properties)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(part) for part in first["loc"])
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"The request content was invalid and could not be deserialized: 'properties.{path}' is "
            f"{first['input']!r}: {first['msg']}.",
        ) from exc

    os_type = props.os_type or "Linux"
    if os_type not in ("Linux", "Windows"):
        raise _invalid("osType", f"osType {os_type!r} is not supported; use Linux or Windows.")
    _validate_name(name, os_type)

    mode = props.mode or "User"
    if mode not in ("System", "User", "Gateway"):
        raise _invalid("mode", f"mode {mode!r} is not supported; use System, User or Gateway.")
    pool_type = props.pool_type or "VirtualMachineScaleSets"
    if pool_type not in ("VirtualMachineScaleSets", "AvailabilitySet", "VirtualMachines"):
        raise _invalid(
            "type",
            f"type {pool_type!r} is not supported; "
            "use VirtualMachineScaleSets, AvailabilitySet or VirtualMachines.",
        )
    if not props.vm_size:
        raise _invalid("vmSize", "vmSize is required; give an Azure VM size such as Standard_D4s_v3.")
    size = find_vm_size(props.vm_size)
    if size is None:
        raise ArmError(
            400,
            "BadRequest",
            f"The VM size of AgentPoolProfile:{name} ({props.vm_size}) is not allowed in your subscription "
            "in "
            f"location '{ids.location}'. For more details, please visit https://aka.ms/aks/quotas-skus-regions",
        )
    count = 1 if props.count is None else props.count
    minimum = 1 if mode == "System" else 0
    if not minimum <= count <= 1000:
        raise _invalid("count", f"count is {count}; a {mode} pool needs between {minimum} and 1000 nodes.")
    os_disk = props.os_disk_size_gb or 128
    if not 30 <= os_disk <= 2048:
        raise _invalid(
            "osDiskSizeGB", f"osDiskSizeGB is {os_disk}; it must be between 30 and 2048 (or 0 for 128)."
        )
    max_pods = 110 if props.max_pods is None else props.max_pods
    if not 10 <= max_pods <= 250:
        raise _invalid("maxPods", f"maxPods is {max_pods}; it must be between 10 and 250.")
    if props.gpu_instance_profile is not None:
        try:
            mig_slice(size, props.gpu_instance_profile)
        except ValueError as exc:
            raise _invalid("gpuInstanceProfile", f"The {exc}.") from exc
    taints = tuple(props.node_taints or ())
    for taint in taints:
        try:
            parse_taint(taint)
        except ValueError as exc:
            raise _invalid("nodeTaints", f"The {exc}.") from exc
    zones = tuple(props.availability_zones or ())
    for zone in zones:
        if zone not in ("1", "2", "3"):
            raise _invalid("availabilityZones", f"availability zone {zone!r} is not one of 1, 2, 3.")

    extra = {key: value for key, value in (props.model_extra or {}).items() if key not in _READ_ONLY}
    return AgentPoolSpec(
        count=count,
        vm_size=props.vm_size,
        os_disk_size_gb=os_disk,
        os_type=os_type,
        os_sku=props.os_sku or ("Ubuntu" if os_type == "Linux" else "Windows2022"),
        mode=mode,
        pool_type=pool_type,
        max_pods=max_pods,
        node_labels=dict(props.node_labels or {}),
        node_taints=taints,
        tags=dict(props.tags or {}),
        availability_zones=zones,
        orchestrator_version=props.orchestrator_version or ids.kubernetes_version,
        gpu_instance_profile=props.gpu_instance_profile,
        extra=extra,
    )


def render_agent_pool(
    ids: ClusterIds,
    name: str,
    spec: AgentPoolSpec,
    *,
    provisioning_state: str,
    etag: str,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The agentPool resource as ARM returns it from PUT, GET and list."""
    properties: dict[str, Any] = {
        **spec.extra,
        "eTag": etag,
        "count": spec.count,
        "vmSize": spec.vm_size,
        "osDiskSizeGB": spec.os_disk_size_gb,
        "osDiskType": spec.extra.get("osDiskType", "Managed"),
        "kubeletDiskType": spec.extra.get("kubeletDiskType", "OS"),
        "maxPods": spec.max_pods,
        "type": spec.pool_type,
        "enableAutoScaling": spec.extra.get("enableAutoScaling", False),
        "provisioningState": provisioning_state,
        "powerState": {"code": "Running"},
        "orchestratorVersion": spec.orchestrator_version,
        "currentOrchestratorVersion": spec.orchestrator_version,
        "nodeImageVersion": "AKSUbuntu-2204gen2containerd-202511.07.0",
        "mode": spec.mode,
        "osType": spec.os_type,
        "osSKU": spec.os_sku,
        "enableFIPS": spec.extra.get("enableFIPS", False),
    }
    if spec.node_labels:
        properties["nodeLabels"] = dict(spec.node_labels)
    if spec.node_taints:
        properties["nodeTaints"] = list(spec.node_taints)
    if spec.tags:
        properties["tags"] = dict(spec.tags)
    if spec.availability_zones:
        properties["availabilityZones"] = list(spec.availability_zones)
    if spec.gpu_instance_profile is not None:
        properties["gpuInstanceProfile"] = spec.gpu_instance_profile
    if error is not None:
        properties["status"] = {"provisioningError": dict(error)}
    return {"id": ids.pool_id(name), "name": name, "type": POOL_TYPE, "properties": properties}


def render_managed_cluster(ids: ClusterIds, pools: dict[str, AgentPoolSpec]) -> dict[str, Any]:
    """The managedCluster resource, enough for clients that look up its node resource group or pools."""
    return {
        "id": ids.cluster_id,
        "name": ids.cluster_name,
        "type": "Microsoft.ContainerService/ManagedClusters",
        "location": ids.location,
        "properties": {
            "provisioningState": "Succeeded",
            "powerState": {"code": "Running"},
            "kubernetesVersion": ids.kubernetes_version,
            "currentKubernetesVersion": ids.kubernetes_version,
            "dnsPrefix": ids.cluster_name,
            "fqdn": f"{ids.cluster_name}-dns.hcp.{ids.location}.azmk8s.io",
            "nodeResourceGroup": ids.node_resource_group,
            "agentPoolProfiles": [
                {
                    "name": name,
                    "count": spec.count,
                    "vmSize": spec.vm_size,
                    "mode": spec.mode,
                    "osType": spec.os_type,
                }
                for name, spec in sorted(pools.items())
            ],
        },
    }
