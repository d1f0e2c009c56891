"""Errors the ARM endpoint answers with, in Azure Resource Manager's shape.

Wire form (ARM's common error response, what azure-core's ``ARMErrorFormat`` parses)::

    HTTP <status>
    {"error": {"code": "<Code>", "message": "<sentence>"}}

The same ``{"code", "message"}`` pair is what a failed long-running operation reports in its status
resource (HTTP 200, ``"status": "Failed"``), and what a Failed pool carries in
``properties.status.provisioningError``. Clients classify by ``code``, never by HTTP status.

The constructors below hold the sentences; the codes are Azure's own (``NotFound``, ``InvalidParameter``,
``OperationNotAllowed``, ``QuotaExceeded``, ``SkuNotAvailable``, ``AllocationFailed``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ArmError",
    "allocation_failed",
    "quota_exceeded",
    "sku_not_available",
]


class ArmError(Exception):
    """An error response: HTTP status, Azure error code, a sentence, and any extra headers."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"({code}) {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})

    def detail(self) -> dict[str, Any]:
        """The ``{"code", "message"}`` pair (an operation's or a pool's error)."""
        return {"code": self.code, "message": self.message}

    def body(self) -> dict[str, Any]:
        """The response body ARM sends with this error."""
        return {"error": self.detail()}


def quota_exceeded(
    *,
    cluster: str,
    node_resource_group: str,
    family: str,
    location: str,
    limit: int,
    usage: int,
    required: int,
) -> ArmError:
    """AKS's preflight quota failure for a VM family's cores in a region."""
    return ArmError(
        400,
        "QuotaExceeded",
        f"Preflight validation check for resource(s) for container service {cluster} in resource group "
        f"{node_resource_group} failed. Message: Operation could not be completed as it results in exceeding "
        f"approved {family} Cores quota. Additional details - Deployment Model: Resource Manager, "
        f"Location: {location}, Current Limit: {limit}, Current Usage: {usage}, "
        f"Additional Required: {required}, "
        f"(Minimum) New Limit Required: {usage + required}. Submit a request for Quota increase at "
        "https://aka.ms/ProdportalCRP/#blade/Microsoft_Azure_Capacity/UsageAndQuota.ReactView/Parameters/ by "
        "specifying parameters listed in the 'Details' section for deployment to succeed.",
    )


def sku_not_available(*, vm_size: str, location: str) -> ArmError:
    """Azure Compute's answer when a size cannot be had in a region (permanent for that size and place)."""
    return ArmError(
        400,
        "SkuNotAvailable",
        "The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: "
        f"{vm_size}' "
        f"is currently not available in location '{location}'. Please try another size or deploy to a "
        "different location or zones. See https://aka.ms/azureskunotavailable for details.",
    )


def allocation_failed() -> ArmError:
    """Azure Compute's answer when the region has no capacity for the size right now (transient)."""
    return ArmError(
        400,
        "AllocationFailed",
        "Allocation failed. We do not have sufficient capacity for the requested VM size in this region. "
        "Read more about improving likelihood of allocation success at http://aka.ms/allocation-guidance",
    )
