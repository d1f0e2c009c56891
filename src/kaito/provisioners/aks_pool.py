"""Pure decisions of the AKS provisioner: pool names, the AgentPool body, reading pools and Azure errors.

One agent pool per Machine, as Azure/gpu-provisioner makes them: count 1, `vmSize` = the Machine's
instance type, mode User, a VirtualMachineScaleSets pool of Linux nodes, node labels tying the node to its
Machine and Workspace (`kaito.sh/machine`, `kaito.sh/workspace`, `kaito.sh/workspacenamespace`,
`kaito.sh/machine-type=gpu`), the GPU taint `sku=gpu:NoSchedule`, the OS disk from
`spec.osDiskSizeGB`, and tags naming the Machine, the creator (`kaito.sh-created-by=kaito`) and the
creation time (`kaito.sh-created-at`, RFC 3339 UTC: AgentPool has no creation time of its own), so leaked
pools can be found by owner and aged (`owned_pool`).

Pool names follow AKS's Linux rule `^[a-z][a-z0-9]{0,11}$`. `pool_name(machine)` is deterministic, so a
restarted controller (or a stale cache) derives the same name and finds the pool instead of making a second
one: a Machine name that already obeys the rule is used as is (KAITO's `ws` + 9 hex names do); any other
name becomes up to four of its leading letters/digits plus eight hex digits of its SHA-256.

Azure errors are classified by `error.code`, never by HTTP status alone: a long-running operation that
failed surfaces as HttpResponseError with status 200 and the code of what went wrong.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from kaito.api import names
from kaito.api.machine import Machine
from kaito.provisioners.base import (
    CapacityError,
    ObservedState,
    OperationInProgress,
    OwnedResource,
    PermanentError,
    ProvisionerError,
    QuotaError,
    RetryableError,
    ThrottledError,
)

if TYPE_CHECKING:  # the Azure SDK is imported when a pool is built or an Azure error read
    from azure.core.exceptions import (
        AzureError,
        HttpResponseError,
    )
    from azure.mgmt.containerservice.models import (
        AgentPool,
    )

__all__ = [
    "CAPACITY_CODES",
    "POOL_NAME_PATTERN",
    "QUOTA_CODES",
    "TAG_CREATED_AT",
    "TAG_CREATED_BY",
    "TAG_MACHINE",
    "build_agent_pool",
    "classify_azure_error",
    "classify_error_code",
    "observe_pool",
    "owned_pool",
    "pool_name",
    "pool_node_labels",
    "pool_taints",
]

POOL_NAME_PATTERN: Final = re.compile(r"^[a-z][a-z0-9]{0,11}$")
TAG_MACHINE: Final = "kaito.sh-machine"  # ARM tag names may not contain '/'
TAG_CREATED_BY: Final = "kaito.sh-created-by"
TAG_CREATED_AT: Final = "kaito.sh-created-at"
CREATED_BY_KAITO: Final = "kaito"

QUOTA_CODES: Final = frozenset({"QuotaExceeded", "OperationNotAllowedQuota"})
CAPACITY_CODES: Final = frozenset(
    {"AllocationFailed", "ZonalAllocationFailed", "SkuNotAvailable", "OverconstrainedAllocationRequest",
     "OverconstrainedZonalAllocationRequest"}
)  # fmt: skip
_QUOTA_TEXT = re.compile(r"quota", re.IGNORECASE)
_IN_PROGRESS_TEXT = re.compile(r"in progress .*operation", re.IGNORECASE)
_PROVISIONING_STATES = frozenset({"Creating", "Updating", "Scaling", "Upgrading", "Starting", "Stopping"})


def pool_name(machine_name: str) -> str:
    """The agent pool name of a Machine: its own name when AKS accepts it, else prefix + 8 hex of SHA-256."""
    if POOL_NAME_PATTERN.match(machine_name):
        return machine_name
    prefix = re.sub(r"[^a-z0-9]", "", machine_name.lower())
    prefix = re.sub(r"^[0-9]+", "", prefix)[:4] or "m"
    return prefix + hashlib.sha256(machine_name.encode()).hexdigest()[:8]


def pool_node_labels(machine: Machine) -> dict[str, str]:
    """Labels every node of the Machine's pool carries: the Machine's own plus KAITO's ownership labels."""
    labels = dict(machine.spec.node_labels or {})
    labels[names.LABEL_MACHINE] = _name(machine)
    labels[names.LABEL_MACHINE_TYPE] = "gpu"
    ref = machine.spec.workspace_ref
    if ref is not None:
        labels.setdefault(names.LABEL_WORKSPACE, ref.name)
        labels.setdefault(names.LABEL_WORKSPACE_NAMESPACE, ref.namespace)
    return labels


def pool_taints(machine: Machine) -> list[str]:
    """`key=value:Effect` taints: the GPU taint first, then the Machine's own (no duplicates)."""
    gpu = f"{names.GPU_TAINT_KEY}={names.GPU_TAINT_VALUE}:{names.GPU_TAINT_EFFECT}"
    taints = [gpu]
    for taint in machine.spec.taints or []:
        text = f"{taint.key}={taint.value}:{taint.effect}" if taint.value else f"{taint.key}:{taint.effect}"
        if text not in taints:
            taints.append(text)
    return taints


# The Workspace's node image family (kaito.sh/node-image-family) as AKS spells the pool's osSKU.
_OS_SKUS = {"ubuntu": "Ubuntu", "azurelinux": "AzureLinux"}


def build_agent_pool(
    machine: Machine, *, extra_tags: Mapping[str, str] | None = None, created_at: datetime | None = None
) -> AgentPool:
    """The AgentPool body for one Machine (see the module docstring); `created_at` becomes a tag."""
    from azure.mgmt.containerservice.models import (
        AgentPool,
        AgentPoolManagedClusterAgentPoolProfileProperties,
    )

    tags = {TAG_MACHINE: _name(machine), TAG_CREATED_BY: CREATED_BY_KAITO, **(extra_tags or {})}
    if created_at is not None:
        tags[TAG_CREATED_AT] = created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ref = machine.spec.workspace_ref
    if ref is not None:
        tags["kaito.sh-workspace"] = f"{ref.namespace}.{ref.name}"
    properties = AgentPoolManagedClusterAgentPoolProfileProperties(
        count=1,
        vm_size=machine.spec.instance_type,
        mode="User",
        type_properties_type="VirtualMachineScaleSets",
        os_type="Linux",
        os_disk_size_gb=machine.spec.os_disk_size_gb,
        os_sku=_OS_SKUS.get(machine.spec.image_family or ""),
        enable_auto_scaling=False,
        node_labels=pool_node_labels(machine),
        node_taints=pool_taints(machine),
        tags=tags,
    )
    return AgentPool(properties=properties)


def observe_pool(pool: AgentPool) -> ObservedState:
    """What a pool's `provisioningState` means for its Machine."""
    name = str(pool.name or "")
    resource = f"agent pool {name}"
    state = str(pool.provisioning_state or "")
    if state == "Succeeded":
        return ObservedState.running(resource, node_labels={"agentpool": name})
    if state == "Deleting":
        return ObservedState.deleting(resource)
    if state == "Failed":
        error = pool.status.provisioning_error if pool.status is not None else None
        code = str(getattr(error, "code", None) or "ProvisioningFailed")
        message = str(
            getattr(error, "message", None) or f"Agent pool {name} is in provisioning state Failed."
        )
        classified = classify_error_code(code, message)
        return ObservedState.failed(
            classified.reason, classified.message, retryable=classified.retryable, resource=resource
        )
    if state in _PROVISIONING_STATES or not state:
        return ObservedState.provisioning(resource, f"Agent pool {name} is {state or 'being created'}.")
    return ObservedState.provisioning(resource, f"Agent pool {name} is in provisioning state {state}.")


def owned_pool(pool: AgentPool) -> OwnedResource | None:
    """The pool as an `OwnedResource` when kaito made it (tags `kaito.sh-created-by=kaito` and
    `kaito.sh-machine`), else None: a pool without both tags is never ours to touch."""
    tags: Mapping[str, str] = pool.tags or {}
    machine = tags.get(TAG_MACHINE)
    if tags.get(TAG_CREATED_BY) != CREATED_BY_KAITO or not machine:
        return None
    name = str(pool.name or "")
    return OwnedResource(
        name=name,
        machine=machine,
        created=_parse_time(tags.get(TAG_CREATED_AT)),
        deleting=str(pool.provisioning_state or "") == "Deleting",
        resource=f"agent pool {name}",
    )


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None  # a tag someone edited: age the pool from when the sweep first sees it
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def classify_error_code(code: str, message: str, *, status: int | None = None) -> ProvisionerError:
    """The typed error for an Azure error code (and HTTP status, for 429/5xx without a telling code)."""
    if code in QUOTA_CODES or (code == "OperationNotAllowed" and _QUOTA_TEXT.search(message)):
        return QuotaError(code, message)
    if code in CAPACITY_CODES or code.startswith("Overconstrained"):
        return CapacityError(code, message)
    if code == "OperationNotAllowed" and _IN_PROGRESS_TEXT.search(message):
        return OperationInProgress(code, message)
    if status == 429 or code == "TooManyRequests":
        return ThrottledError(code or "TooManyRequests", message)
    if (status is not None and status >= 500) or code in {
        "InternalServerError",
        "ServiceUnavailable",
        "GatewayTimeout",
        "BadGateway",
        "InternalOperationError",
    }:
        return RetryableError(code or "ServerError", message)
    return PermanentError(code or "BadRequest", message)


def classify_azure_error(exc: AzureError) -> ProvisionerError:
    """The typed error for an exception the azure SDK raised (Retry-After read from the response)."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return RetryableError("ConnectionFailed", f"The Azure endpoint did not answer: {exc.message}")
    if not isinstance(exc, HttpResponseError):
        return RetryableError("AzureError", str(exc))
    error = exc.error
    code = str(getattr(error, "code", None) or "")
    message = str(getattr(error, "message", None) or exc.message or exc.reason or "")
    classified = classify_error_code(code, message, status=exc.status_code)
    if isinstance(classified, RetryableError):
        classified.retry_after = _retry_after(exc)
    return classified


def _retry_after(exc: HttpResponseError) -> float | None:
    headers: Mapping[str, Any] = getattr(exc.response, "headers", None) or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


def _name(machine: Machine) -> str:
    return machine.metadata.name or ""
